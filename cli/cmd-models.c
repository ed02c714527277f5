/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae models               the models libvae knows, and where they are
 * vae models verify [ID]   check installed files against the registry
 */

#include <stdio.h>
#include <string.h>

#include "vae-cli.h"

/* A row of the table, a string a column. */
enum
{
  COL_ID,
  COL_NAME,
  COL_ARCHITECTURE,
  COL_CHANNELS,
  COL_FACTOR,
  COL_LICENSE,
  COL_WHERE,
  N_COLUMNS
};

static gchar *
where_installed (VaeRegistry            *registry,
                 const VaeRegistryEntry *entry)
{
  g_autofree gchar *folder = vae_registry_find_installed (registry, entry, NULL);
  gboolean          embedded = vae_registry_has_embedded (registry, entry);

  if (embedded && folder)
    return g_strdup_printf ("built in; also %s", folder);
  if (embedded)
    return g_strdup ("built in");
  if (folder)
    return g_steal_pointer (&folder);

  return g_strdup ("not installed");
}

/* Column widths follow the content: display width in characters, not
 * bytes, so that a name with a non-ASCII letter does not shift the rest. */
static void
print_padded (const gchar *text,
              glong        width,
              gboolean     last)
{
  glong n = g_utf8_strlen (text, -1);

  fputs (text, stdout);
  if (last)
    putchar ('\n');
  else
    printf ("%*s", (gint) (width - n + 2), "");
}

static gboolean
list_models (CliContext   *ctx,
             VaeRegistry  *registry,
             GError      **error)
{
  g_autoptr (GPtrArray) entries = vae_registry_list (registry);
  g_autoptr (GPtrArray) local = vae_registry_find_local (registry);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                               g_strfreev);
  const gchar * const  *path = vae_registry_get_search_path (registry);
  static const gchar   *const header[N_COLUMNS] = {
    "ID", "NAME", "ARCHITECTURE", "CHANNELS", "FACTOR", "LICENSE", "INSTALLED"
  };
  glong                 width[N_COLUMNS];
  gboolean              any_default = FALSE;
  guint                 i, j;

  for (i = 0; i < entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (entries, i);
      const gchar            *license = vae_registry_entry_get_license (entry);
      gchar                 **row = g_new0 (gchar *, N_COLUMNS + 1);

      row[COL_ID] = g_strconcat (vae_registry_entry_get_id (entry),
                                 vae_registry_entry_is_default (entry) ? " *" : "",
                                 NULL);
      row[COL_NAME] = g_strdup (vae_registry_entry_get_name (entry));
      row[COL_ARCHITECTURE] =
        g_strdup (vae_registry_entry_get_architecture (entry));
      row[COL_CHANNELS] =
        g_strdup_printf ("%u", vae_registry_entry_get_latent_channels (entry));
      row[COL_FACTOR] =
        g_strdup_printf ("%u", vae_registry_entry_get_factor (entry));
      row[COL_LICENSE] = g_strdup (license[0] ? license : "unknown");
      row[COL_WHERE] = where_installed (registry, entry);
      any_default = any_default || vae_registry_entry_is_default (entry);
      g_ptr_array_add (rows, row);
    }

  for (i = 0; i < local->len; i++)
    {
      const VaeRegistryLocal *found = g_ptr_array_index (local, i);
      gchar                 **row = g_new0 (gchar *, N_COLUMNS + 1);

      row[COL_ID] = g_strdup (found->name);
      row[COL_NAME] = g_strdup ("(not in the registry)");
      row[COL_WHERE] = g_strdup (found->path);
      for (j = 0; j < N_COLUMNS; j++)
        if (row[j] == NULL)
          row[j] = g_strdup ("-");
      g_ptr_array_add (rows, row);
    }

  for (j = 0; j < N_COLUMNS; j++)
    width[j] = g_utf8_strlen (header[j], -1);
  for (i = 0; i < rows->len; i++)
    for (j = 0; j < N_COLUMNS; j++)
      width[j] = MAX (width[j],
                      g_utf8_strlen (((gchar **) g_ptr_array_index (rows, i))[j],
                                     -1));

  for (j = 0; j < N_COLUMNS; j++)
    print_padded (header[j], width[j], j + 1 == N_COLUMNS);
  for (i = 0; i < rows->len; i++)
    for (j = 0; j < N_COLUMNS; j++)
      print_padded (((gchar **) g_ptr_array_index (rows, i))[j], width[j],
                    j + 1 == N_COLUMNS);

  if (any_default)
    cli_note (ctx, "\n* the default model, used when a command is given none");
  cli_note (ctx, "Models are looked for in a folder named after the ID, or as "
                 "the files themselves, in (first match wins):");
  for (i = 0; path[i]; i++)
    cli_note (ctx, "  %s", path[i]);
  cli_note (ctx, "Set %s (folders separated by ':') to look elsewhere first.",
            VAE_REGISTRY_PATH_VARIABLE);

  return TRUE;
}

static const gchar *
status_label (VaeRegistryStatus status)
{
  switch (status)
    {
    case VAE_REGISTRY_STATUS_OK:            return "ok";
    case VAE_REGISTRY_STATUS_UNCHECKED:     return "unchecked";
    case VAE_REGISTRY_STATUS_MISSING:       return "MISSING";
    case VAE_REGISTRY_STATUS_WRONG_SIZE:    return "WRONG SIZE";
    case VAE_REGISTRY_STATUS_WRONG_SUM:     return "CORRUPT";
    case VAE_REGISTRY_STATUS_WRONG_TENSORS: return "CORRUPT";
    case VAE_REGISTRY_STATUS_UNREADABLE:    return "UNREADABLE";
    }

  return "?";
}

static void
print_checks (const VaeRegistryEntry *entry,
              GPtrArray              *checks)
{
  guint i;

  for (i = 0; checks && i < checks->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (checks, i);

      printf ("%-10s %-10s %s\n", vae_registry_entry_get_id (entry),
              status_label (check->status), check->message);
    }
  fflush (stdout);
}

/* Results go to stdout even with --quiet: they are what was asked for. */
static gboolean
verify_models (CliContext   *ctx,
               VaeRegistry  *registry,
               const gchar  *id,
               GError      **error)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GString)   failed = NULL;
  guint                 n_checked = 0;
  guint                 n_failed = 0;
  guint                 i;

  if (id)
    {
      const VaeRegistryEntry *entry = vae_registry_lookup (registry, id);
      g_autoptr (GPtrArray)   checks = NULL;
      gboolean                ok;

      if (entry == NULL)
        {
          g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                       "models verify: '%s' is not a registered model (see "
                       "'vae models')", id);
          return FALSE;
        }
      ok = vae_registry_verify (registry, entry, &checks, ctx->cancellable, error);
      print_checks (entry, checks);

      return ok;
    }

  entries = vae_registry_list (registry);
  failed = g_string_new (NULL);
  for (i = 0; i < entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (entries, i);
      g_autoptr (GError)      local_error = NULL;
      g_autoptr (GPtrArray)   checks = NULL;

      if (! cli_check_cancelled (ctx, error))
        return FALSE;

      if (vae_registry_verify (registry, entry, &checks, ctx->cancellable,
                               &local_error))
        {
          print_checks (entry, checks);
          n_checked++;
          continue;
        }
      if (g_error_matches (local_error, VAE_ERROR, VAE_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      /* a model of which no file is here has nothing to check */
      if (checks == NULL || checks->len == 0)
        continue;

      print_checks (entry, checks);
      n_checked++;
      g_string_append_printf (failed, "%s%s", n_failed ? ", " : "",
                              vae_registry_entry_get_id (entry));
      n_failed++;
    }

  if (n_failed)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_FAILED,
                   "%u of %u installed model%s failed verification: %s",
                   n_failed, n_checked, n_checked == 1 ? "" : "s", failed->str);
      return FALSE;
    }

  if (n_checked == 0)
    cli_note (ctx, "no registered model is installed; nothing to verify");
  else
    cli_note (ctx, "%u model%s verified", n_checked, n_checked == 1 ? "" : "s");

  return TRUE;
}

gboolean
cli_models (CliContext  *ctx,
            gint         argc,
            gchar      **argv,
            GError     **error)
{
  guint                   n;
  g_auto (GStrv)          positional = NULL;
  g_autoptr (VaeRegistry) registry = NULL;

  if (!cli_parse_options (ctx, "[verify [ID]]",
                          "Lists the models libvae knows (the registry), "
                          "whether each is built in or installed and where; "
                          "'verify' checks the size and SHA-256 sum of the "
                          "installed files of one model, or of all, and "
                          "exits with 1 when a file is missing or damaged.",
                          "A model is installed when a folder named after "
                          "its ID, holding its files, is in one of the "
                          "folders listed below the table, or when the "
                          "files themselves are.  MODEL arguments of the "
                          "other commands may be such an ID.",
                          NULL, argc, argv, &positional, error))
    return FALSE;

  n = g_strv_length (positional);
  if (n > 0 && !g_str_equal (positional[0], "verify"))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "models: unknown subcommand '%s' (see 'vae models --help')",
                   positional[0]);
      return FALSE;
    }
  if (n > 2)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "models verify: expected at most one ID, got %u", n - 1);
      return FALSE;
    }

  registry = vae_registry_new (error);
  if (registry == NULL)
    return FALSE;

  if (n == 0)
    return list_models (ctx, registry, error);

  return verify_models (ctx, registry, n == 2 ? positional[1] : NULL, error);
}
