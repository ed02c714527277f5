/* gimp-vae tests - the model registry (suite registry)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A fixture registry lists the small random TAESD of tests/data/taesd/taesd
 * under a few ids; each test copies those files into temporary search-path
 * folders (the test runs with G_TEST_OPTION_ISOLATE_DIRS, so the user and
 * system data folders are fresh temporary ones too).  The sizes and
 * SHA-256 sums the fixture states come from g_stat() and from running
 * `sha256sum`, the tensor counts from the weight loader: none from the
 * registry code under test.
 *
 * The project's data/models.json must parse, match the registry compiled
 * into libvae, and its TAEF2 entry must verify against
 * $VAE_SHARED_DIR/models/taef2 (skipped without it).
 */

#include <string.h>

#include <glib/gstdio.h>

#include "vae.h"
#include "vae-registry-private.h"
#include "vae-weights.h"
#include "test-util.h"

/* made by tests/meson.build from tests/data/registry/ */
void        test_registry_resources_register_resource (void);
GResource * test_registry_resources_get_resource      (void);

typedef struct
{
  gchar *root;          /* temporary folder holding everything below */
  gchar *env_dir;       /* in GIMP_VAE_MODEL_PATH */
  gchar *user_dir;      /* $XDG_DATA_HOME/gimp-vae/models */
  gchar *taesd_dir;     /* the fixture model in the source tree */
  gchar *json;          /* the fixture registry */
  gint64 enc_size;
  gint64 dec_size;
  gchar *enc_sum;
  gchar *dec_sum;
  guint  n_tensors;
} Fixture;

static gchar *
sha256sum (const gchar *path)
{
  g_autofree gchar  *out = NULL;
  g_autoptr (GError) error = NULL;
  const gchar       *argv[] = { "sha256sum", path, NULL };
  gint               status;

  g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (strlen (out), >, 64);

  return g_strndup (out, 64);
}

static gint64
size_of (const gchar *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);

  return st.st_size;
}

static void
copy_file (const gchar *from,
           const gchar *to)
{
  g_autofree gchar  *contents = NULL;
  g_autofree gchar  *dir = g_path_get_dirname (to);
  g_autoptr (GError) error = NULL;
  gsize              length;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_get_contents (from, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (to, contents, length, &error);
  g_assert_no_error (error);
}

/* Puts the fixture's encoder and decoder into @folder, named @enc and @dec. */
static void
install (Fixture     *fx,
         const gchar *folder,
         const gchar *enc,
         const gchar *dec)
{
  g_autofree gchar *src_enc = g_build_filename (fx->taesd_dir, "encoder.safetensors", NULL);
  g_autofree gchar *src_dec = g_build_filename (fx->taesd_dir, "decoder.safetensors", NULL);
  g_autofree gchar *dst_enc = g_build_filename (folder, enc, NULL);
  g_autofree gchar *dst_dec = g_build_filename (folder, dec, NULL);

  copy_file (src_enc, dst_enc);
  copy_file (src_dec, dst_dec);
}

static guint
tensors_in (const gchar *path)
{
  g_autoptr (VaeWeights) weights = test_load_weights (path);

  return vae_weights_get_n_tensors (weights);
}

/* vae_registry_resolve (@spec) must fail with @code and a message that
 * holds each of the NULL-terminated strings after @code. */
static void
assert_resolve_fails (VaeRegistry *registry,
                      const gchar *spec,
                      gint         code,
                      ...)
{
  g_autoptr (GError) error = NULL;
  VaeModel          *model = vae_registry_resolve (registry, spec, &error);
  const gchar       *needle;
  va_list            args;

  g_assert_null (model);
  g_assert_error (error, VAE_ERROR, code);
  va_start (args, code);
  while ((needle = va_arg (args, const gchar *)) != NULL)
    if (strstr (error->message, needle) == NULL)
      g_error ("resolving '%s': '%s' is not in \"%s\"", spec ? spec : "(default)",
               needle, error->message);
  va_end (args);
}

/* "tiny": the fixture as encoder/decoder.safetensors, default.
 * "pair": the same weights under two alternative file sets.
 * "nosum": no sizes or sums, only a tensor count.
 * "ghost": never installed.
 * "wrong": the fixture's files, but the registry claims 16 channels. */
static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree gchar *enc = NULL;
  g_autofree gchar *dec = NULL;

  fx->root = g_dir_make_tmp ("test-registry-XXXXXX", NULL);
  g_assert_nonnull (fx->root);
  fx->env_dir = g_build_filename (fx->root, "env", NULL);
  fx->user_dir = g_build_filename (g_get_user_data_dir (), "gimp-vae", "models", NULL);
  g_mkdir_with_parents (fx->env_dir, 0755);
  g_mkdir_with_parents (fx->user_dir, 0755);
  g_setenv ("GIMP_VAE_MODEL_PATH", fx->env_dir, TRUE);

  fx->taesd_dir = g_test_build_filename (G_TEST_DIST, "data", "taesd", "taesd", NULL);
  enc = g_build_filename (fx->taesd_dir, "encoder.safetensors", NULL);
  dec = g_build_filename (fx->taesd_dir, "decoder.safetensors", NULL);
  fx->enc_size = size_of (enc);
  fx->dec_size = size_of (dec);
  fx->enc_sum = sha256sum (enc);
  fx->dec_sum = sha256sum (dec);
  fx->n_tensors = tensors_in (enc) + tensors_in (dec);

#define FILE_JSON(name, set, size, sum) \
  "{\"name\": \"" name "\", \"set\": \"" set "\", \"size\": %" G_GINT64_FORMAT \
  ", \"sha256\": \"%s\", \"url\": \"https://example.org/" name "\"}"

  fx->json = g_strdup_printf (
    "{\"format_version\": 1, \"models\": ["
    "{\"id\": \"tiny\", \"name\": \"Tiny\", \"architecture\": \"taesd\","
    " \"latent_channels\": 4, \"factor\": 8, \"tensors\": %u,"
    " \"license\": \"MIT\", \"default\": true, \"files\": ["
    FILE_JSON ("encoder.safetensors", "", size, sum) ", "
    FILE_JSON ("decoder.safetensors", "", size, sum) "]},"
    "{\"id\": \"pair\", \"name\": \"Pair\", \"architecture\": \"taesd\","
    " \"latent_channels\": 4, \"factor\": 8, \"files\": ["
    FILE_JSON ("pair_encoder.safetensors", "", size, sum) ", "
    FILE_JSON ("pair_decoder.safetensors", "", size, sum) ", "
    FILE_JSON ("encoder.safetensors", "plain", size, sum) ", "
    FILE_JSON ("decoder.safetensors", "plain", size, sum) "]},"
    "{\"id\": \"nosum\", \"name\": \"No sums\", \"architecture\": \"taesd\","
    " \"latent_channels\": 4, \"factor\": 8, \"tensors\": %u, \"files\": ["
    "{\"name\": \"nosum_encoder.safetensors\", \"size\": null},"
    "{\"name\": \"nosum_decoder.safetensors\"}]},"
    "{\"id\": \"ghost\", \"name\": \"Ghost\", \"architecture\": \"taesd\","
    " \"latent_channels\": 4, \"factor\": 8, \"embedded\": true, \"files\": ["
    "{\"name\": \"ghost.safetensors\", \"url\": \"https://example.org/ghost\"}]},"
    "{\"id\": \"wrong\", \"name\": \"Wrong\", \"architecture\": \"taesd\","
    " \"latent_channels\": 16, \"factor\": 8, \"files\": ["
    FILE_JSON ("wrong_encoder.safetensors", "", size, sum) ", "
    FILE_JSON ("wrong_decoder.safetensors", "", size, sum) "]}"
    "]}",
    fx->n_tensors,
    fx->enc_size, fx->enc_sum, fx->dec_size, fx->dec_sum,
    fx->enc_size, fx->enc_sum, fx->dec_size, fx->dec_sum,
    fx->enc_size, fx->enc_sum, fx->dec_size, fx->dec_sum,
    fx->n_tensors,
    fx->enc_size, fx->enc_sum, fx->dec_size, fx->dec_sum);
#undef FILE_JSON
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  test_remove_dir (fx->root);
  g_unsetenv ("GIMP_VAE_MODEL_PATH");
  g_free (fx->root);
  g_free (fx->env_dir);
  g_free (fx->user_dir);
  g_free (fx->taesd_dir);
  g_free (fx->json);
  g_free (fx->enc_sum);
  g_free (fx->dec_sum);
}

static VaeRegistry *
fixture_registry (Fixture *fx)
{
  g_autoptr (GError) error = NULL;
  VaeRegistry       *registry;

  registry = vae_registry_new_from_data (fx->json, -1, "fixture", &error);
  g_assert_no_error (error);
  g_assert_nonnull (registry);

  return registry;
}

/* Only the fixture's folders: the source tree's data/models may hold the
 * real default model, which is no business of these tests. */
static VaeRegistry *
fixture_registry_isolated (Fixture *fx)
{
  VaeRegistry       *registry = fixture_registry (fx);
  const gchar *const path[] = { fx->env_dir, fx->user_dir, NULL };

  vae_registry_set_search_path (registry, path);

  return registry;
}


/* --- parsing and lookup --------------------------------------------------- */

static void
test_lookup (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry (fx);
  g_autoptr (GPtrArray)   list = vae_registry_list (registry);
  const VaeRegistryEntry *entry;
  const VaeRegistryFile  *file;
  gdouble                 scale, shift;

  g_assert_cmpuint (list->len, ==, 5);
  g_assert_cmpstr (vae_registry_entry_get_id (g_ptr_array_index (list, 0)), ==, "tiny");
  g_assert_cmpstr (vae_registry_entry_get_id (g_ptr_array_index (list, 4)), ==, "wrong");

  entry = vae_registry_lookup (registry, "tiny");
  g_assert_nonnull (entry);
  g_assert_true (entry == vae_registry_get_default (registry));
  g_assert_true (vae_registry_entry_is_default (entry));
  g_assert_false (vae_registry_entry_is_embedded (entry));
  g_assert_cmpstr (vae_registry_entry_get_name (entry), ==, "Tiny");
  g_assert_cmpstr (vae_registry_entry_get_architecture (entry), ==, "taesd");
  g_assert_cmpstr (vae_registry_entry_get_license (entry), ==, "MIT");
  g_assert_cmpstr (vae_registry_entry_get_homepage (entry), ==, "");
  g_assert_cmpuint (vae_registry_entry_get_latent_channels (entry), ==, 4);
  g_assert_cmpuint (vae_registry_entry_get_factor (entry), ==, 8);
  g_assert_cmpuint (vae_registry_entry_get_n_tensors (entry), ==, fx->n_tensors);
  /* absent scale and shift mean raw latents */
  vae_registry_entry_get_latent_scaling (entry, &scale, &shift);
  g_assert_cmpfloat (scale, ==, 1.0);
  g_assert_cmpfloat (shift, ==, 0.0);

  g_assert_cmpuint (vae_registry_entry_get_n_files (entry), ==, 2);
  file = vae_registry_entry_get_file (entry, 1);
  g_assert_cmpstr (file->name, ==, "decoder.safetensors");
  g_assert_cmpstr (file->set, ==, "");
  g_assert_cmpint (file->size, ==, fx->dec_size);
  g_assert_cmpstr (file->sha256, ==, fx->dec_sum);
  g_assert_cmpstr (file->url, ==, "https://example.org/decoder.safetensors");

  entry = vae_registry_lookup (registry, "nosum");
  file = vae_registry_entry_get_file (entry, 0);
  g_assert_cmpint (file->size, ==, -1);
  g_assert_cmpstr (file->sha256, ==, "");
  g_assert_cmpint (vae_registry_entry_get_file (entry, 1)->size, ==, -1);

  entry = vae_registry_lookup (registry, "pair");
  g_assert_cmpstr (vae_registry_entry_get_file (entry, 2)->set, ==, "plain");

  g_assert_null (vae_registry_lookup (registry, "Tiny"));
  g_assert_null (vae_registry_lookup (registry, "nothing"));
}

typedef struct
{
  const gchar *what;
  const gchar *json;
  gint         code;
} Malformed;

#define MODEL_HEAD "\"id\": \"m\", \"name\": \"M\", \"architecture\": \"taesd\", "
#define ONE_FILE   "\"files\": [{\"name\": \"m.safetensors\"}]"
#define WRAP(models) "{\"format_version\": 1, \"models\": [" models "]}"

static const Malformed malformed[] =
{
  { "not JSON", "{\"format_version\": 1, \"models\": [", VAE_ERROR_FORMAT },
  { "empty", "", VAE_ERROR_FORMAT },
  { "root is a list", "[]", VAE_ERROR_FORMAT },
  /* json-glib keeps the last of several top-level values */
  { "two documents", "{\"format_version\": 1, \"models\": []} {\"format_version\": 1, \"models\": []}", VAE_ERROR_FORMAT },
  { "trailing text", "{\"format_version\": 1, \"models\": []} x", VAE_ERROR_FORMAT },
  { "no format_version", "{\"models\": []}", VAE_ERROR_FORMAT },
  { "format_version a string", "{\"format_version\": \"1\", \"models\": []}", VAE_ERROR_FORMAT },
  { "newer format", "{\"format_version\": 2, \"models\": []}", VAE_ERROR_UNSUPPORTED },
  { "unknown top-level key", "{\"format_version\": 1, \"models\": [], \"extra\": 1}", VAE_ERROR_FORMAT },
  { "models not a list", "{\"format_version\": 1, \"models\": {}}", VAE_ERROR_FORMAT },
  { "model not an object", WRAP ("3"), VAE_ERROR_FORMAT },
  { "no id", WRAP ("{\"name\": \"M\", \"architecture\": \"taesd\", \"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "id with a slash", WRAP ("{\"id\": \"a/b\", \"name\": \"M\", \"architecture\": \"taesd\", \"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "id in capitals", WRAP ("{\"id\": \"Taef2\", \"name\": \"M\", \"architecture\": \"taesd\", \"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "empty name", WRAP ("{\"id\": \"m\", \"name\": \"\", \"architecture\": \"taesd\", \"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "misspelt key", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factr\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "no factor", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "channels a string", WRAP ("{" MODEL_HEAD "\"latent_channels\": \"4\", \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "factor a fraction", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8.5, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "factor zero", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 0, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "negative channels", WRAP ("{" MODEL_HEAD "\"latent_channels\": -4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "negative scale", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"scale\": -0.5, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "scale a string", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"scale\": \"0.5\", " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "default not a boolean", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"default\": 1, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "no files", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8}"), VAE_ERROR_FORMAT },
  { "empty files", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": []}"), VAE_ERROR_FORMAT },
  { "file not an object", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [\"m.safetensors\"]}"), VAE_ERROR_FORMAT },
  { "file in a folder", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"../m.safetensors\"}]}"), VAE_ERROR_FORMAT },
  { "file name ..", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"..\"}]}"), VAE_ERROR_FORMAT },
  { "unknown file key", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"md5\": \"\"}]}"), VAE_ERROR_FORMAT },
  { "short sha256", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"sha256\": \"abc\"}]}"), VAE_ERROR_FORMAT },
  { "upper-case sha256", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"sha256\": \"8B53ADA1080F75727F05FC73FBD7BBF654BC0E2D4F27E6D61612643881086AAF\"}]}"), VAE_ERROR_FORMAT },
  { "negative size", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"size\": -5}]}"), VAE_ERROR_FORMAT },
  { "size a string", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"size\": \"12\"}]}"), VAE_ERROR_FORMAT },
  { "ftp url", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\", \"url\": \"ftp://x/m\"}]}"), VAE_ERROR_FORMAT },
  { "file listed twice", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"files\": [{\"name\": \"m.safetensors\"}, {\"name\": \"m.safetensors\", \"set\": \"b\"}]}"), VAE_ERROR_FORMAT },
  { "embedded pair", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"embedded\": true, \"files\": [{\"name\": \"e.safetensors\"}, {\"name\": \"d.safetensors\"}]}"), VAE_ERROR_FORMAT },
  { "embedded .pth", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"embedded\": true, \"files\": [{\"name\": \"m.pth\"}]}"), VAE_ERROR_FORMAT },
  { "id twice", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}, {" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"), VAE_ERROR_FORMAT },
  { "families not a list", "{\"format_version\": 1, \"models\": [], \"families\": {}}", VAE_ERROR_FORMAT },
  { "family without a name", "{\"format_version\": 1, \"models\": [], \"families\": [{\"id\": \"f\", \"architecture\": \"taesd\"}]}", VAE_ERROR_FORMAT },
  { "family id in capitals", "{\"format_version\": 1, \"models\": [], \"families\": [{\"id\": \"F-{channels}\", \"name\": \"F\", \"architecture\": \"taesd\"}]}", VAE_ERROR_FORMAT },
  { "family traits not strings", "{\"format_version\": 1, \"models\": [], \"families\": [{\"id\": \"f\", \"name\": \"F\", \"architecture\": \"taesd\", \"traits\": [1]}]}", VAE_ERROR_FORMAT },
  { "family metadata without a key", "{\"format_version\": 1, \"models\": [], \"families\": [{\"id\": \"f\", \"name\": \"F\", \"architecture\": \"taesd\", \"metadata\": {\"contains\": [\"x\"]}}]}", VAE_ERROR_FORMAT },
  { "family misspelt key", "{\"format_version\": 1, \"models\": [], \"families\": [{\"id\": \"f\", \"name\": \"F\", \"architecture\": \"taesd\", \"factr\": 8}]}", VAE_ERROR_FORMAT },
  { "two defaults", WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, \"default\": true, " ONE_FILE "}, {\"id\": \"n\", \"name\": \"N\", \"architecture\": \"taesd\", \"latent_channels\": 4, \"factor\": 8, \"default\": true, " ONE_FILE "}"), VAE_ERROR_FORMAT },
};

static void
test_malformed (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr (GError)      error = NULL;
      g_autoptr (VaeRegistry) registry = NULL;

      g_test_message ("%s", malformed[i].what);
      registry = vae_registry_new_from_data (malformed[i].json, -1, "bad.json", &error);
      g_assert_null (registry);
      g_assert_error (error, VAE_ERROR, malformed[i].code);
      /* the message names its source */
      g_assert_true (g_str_has_prefix (error->message, "bad.json"));
    }
}

/* The minimal valid model of the malformed cases, to show that they fail
 * for the reason given and not for a slip in the shared parts. */
static void
test_minimal (void)
{
  g_autoptr (GError)      error = NULL;
  g_autoptr (VaeRegistry) registry = NULL;

  registry = vae_registry_new_from_data (WRAP ("{" MODEL_HEAD "\"latent_channels\": 4, \"factor\": 8, " ONE_FILE "}"),
                                         -1, "good.json", &error);
  g_assert_no_error (error);
  g_assert_nonnull (vae_registry_lookup (registry, "m"));
  /* none marked default */
  g_assert_null (vae_registry_get_default (registry));

  g_clear_pointer (&registry, vae_registry_unref);
  registry = vae_registry_new_from_file ("/nonexistent/models.json", &error);
  g_assert_null (registry);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
}


/* --- search path -------------------------------------------------------------- */

static void
test_search_path (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree gchar   *a = g_build_filename (fx->root, "a", NULL);
  g_autofree gchar   *b = g_build_filename (fx->root, "b", NULL);
  g_autofree gchar   *env = g_strdup_printf ("%s::%s:%s/", a, b, a);
  g_auto (GStrv)      path = NULL;
  g_autofree gchar   *user = NULL;
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  guint               i;

  /* ISOLATE_DIRS points these at the test's own temporary folders; GLib
   * keeps them apart from the environment, which it sets to /dev/null */
  g_assert_true (g_str_has_prefix (g_get_user_data_dir (), g_get_tmp_dir ()));
  g_setenv ("GIMP_VAE_MODEL_PATH", env, TRUE);

  g_ptr_array_add (expected, g_strdup (a));
  g_ptr_array_add (expected, g_strdup (b));
  user = g_build_filename (g_get_user_data_dir (), "gimp-vae", "models", NULL);
  g_ptr_array_add (expected, g_strdup (user));
  for (i = 0; g_get_system_data_dirs ()[i]; i++)
    g_ptr_array_add (expected, g_build_filename (g_get_system_data_dirs ()[i],
                                                 "gimp-vae", "models", NULL));
  g_assert_cmpuint (expected->len, >, 3);

  path = vae_registry_default_search_path ();
  g_assert_cmpuint (g_strv_length (path), >=, expected->len);
  /* the empty entry is skipped, the repeated one (with a slash) kept once */
  for (i = 0; i < expected->len; i++)
    g_assert_cmpstr (path[i], ==, g_ptr_array_index (expected, i));
  /* then the installed and the source-tree folders, nothing else */
  g_assert_cmpuint (g_strv_length (path), <=, expected->len + 2);
  g_assert_true (g_str_has_suffix (path[g_strv_length (path) - 1],
                                   "gimp-vae/models") ||
                 g_str_has_suffix (path[g_strv_length (path) - 1],
                                   "data/models"));

  /* a registry takes the path when made, and can be given another */
  {
    g_autoptr (VaeRegistry) registry = fixture_registry (fx);
    const gchar *const      mine[] = { b, a, b, NULL };
    const gchar * const    *got;

    got = vae_registry_get_search_path (registry);
    g_assert_cmpstr (got[0], ==, a);
    vae_registry_set_search_path (registry, mine);
    got = vae_registry_get_search_path (registry);
    g_assert_cmpuint (g_strv_length ((gchar **) got), ==, 2);
    g_assert_cmpstr (got[0], ==, b);
    g_assert_cmpstr (got[1], ==, a);
    vae_registry_set_search_path (registry, NULL);
    got = vae_registry_get_search_path (registry);
    g_assert_cmpstr (got[0], ==, a);
  }
}

/* The first folder of the path wins: GIMP_VAE_MODEL_PATH before the user's
 * data folder. */
static void
test_search_order (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry (fx);
  const VaeRegistryEntry *tiny = vae_registry_lookup (registry, "tiny");
  g_autofree gchar       *env_tiny = g_build_filename (fx->env_dir, "tiny", NULL);
  g_autofree gchar       *user_tiny = g_build_filename (fx->user_dir, "tiny", NULL);
  g_autofree gchar       *found = NULL;
  g_autofree gchar       *dec = NULL;

  g_assert_null (vae_registry_find_installed (registry, tiny, NULL));
  g_assert_false (vae_registry_is_available (registry, tiny));

  install (fx, user_tiny, "encoder.safetensors", "decoder.safetensors");
  found = vae_registry_find_installed (registry, tiny, NULL);
  g_assert_cmpstr (found, ==, user_tiny);
  g_clear_pointer (&found, g_free);

  install (fx, env_tiny, "encoder.safetensors", "decoder.safetensors");
  found = vae_registry_find_installed (registry, tiny, NULL);
  g_assert_cmpstr (found, ==, env_tiny);
  g_clear_pointer (&found, g_free);

  /* half a model does not count: the next folder's complete copy does */
  dec = g_build_filename (env_tiny, "decoder.safetensors", NULL);
  g_assert_cmpint (g_unlink (dec), ==, 0);
  found = vae_registry_find_installed (registry, tiny, NULL);
  g_assert_cmpstr (found, ==, user_tiny);
  g_assert_true (vae_registry_is_available (registry, tiny));
}

/* Alternative file sets, and loose files matched by name and size. */
static void
test_sets_and_loose_files (Fixture       *fx,
                           gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry_isolated (fx);
  const VaeRegistryEntry *pair = vae_registry_lookup (registry, "pair");
  const VaeRegistryEntry *tiny = vae_registry_lookup (registry, "tiny");
  const VaeRegistryEntry *nosum = vae_registry_lookup (registry, "nosum");
  g_autofree gchar       *pair_dir = g_build_filename (fx->user_dir, "pair", NULL);
  g_autofree gchar       *found = NULL;
  const gchar            *set = NULL;

  install (fx, pair_dir, "encoder.safetensors", "decoder.safetensors");
  found = vae_registry_find_installed (registry, pair, &set);
  g_assert_cmpstr (found, ==, pair_dir);
  g_assert_cmpstr (set, ==, "plain");
  g_clear_pointer (&found, g_free);

  install (fx, pair_dir, "pair_encoder.safetensors", "pair_decoder.safetensors");
  found = vae_registry_find_installed (registry, pair, &set);
  g_assert_cmpstr (set, ==, "");
  g_clear_pointer (&found, g_free);

  /* loose in a search folder: tiny's names and sizes match */
  install (fx, fx->env_dir, "encoder.safetensors", "decoder.safetensors");
  found = vae_registry_find_installed (registry, tiny, &set);
  g_assert_cmpstr (found, ==, fx->env_dir);
  g_clear_pointer (&found, g_free);

  /* loose files of no known size are taken by their unique name only */
  install (fx, fx->env_dir, "nosum_encoder.safetensors", "nosum_decoder.safetensors");
  found = vae_registry_find_installed (registry, nosum, NULL);
  g_assert_cmpstr (found, ==, fx->env_dir);
  g_clear_pointer (&found, g_free);

  /* a loose file of the right name but another size is not tiny's */
  {
    g_autofree gchar *enc = g_build_filename (fx->env_dir, "encoder.safetensors", NULL);
    g_autoptr (GError) error = NULL;

    g_file_set_contents (enc, "not the encoder", -1, &error);
    g_assert_no_error (error);
    g_assert_null (vae_registry_find_installed (registry, tiny, NULL));
  }
}


/* --- verification ------------------------------------------------------------- */

static VaeRegistryCheck *
check_of (GPtrArray   *checks,
          const gchar *name)
{
  guint i;

  for (i = 0; i < checks->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (checks, i);

      if (g_str_equal (check->name, name))
        return check;
    }
  g_assert_not_reached ();

  return NULL;
}

static void
flip_byte (const gchar *path,
           gsize        offset)
{
  g_autofree gchar  *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize              length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (offset, <, length);
  contents[offset] ^= 0x01;
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

static void
test_verify (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry_isolated (fx);
  const VaeRegistryEntry *tiny = vae_registry_lookup (registry, "tiny");
  g_autofree gchar       *dir = g_build_filename (fx->user_dir, "tiny", NULL);
  g_autofree gchar       *enc = g_build_filename (dir, "encoder.safetensors", NULL);
  g_autofree gchar       *dec = g_build_filename (dir, "decoder.safetensors", NULL);
  g_autoptr (GPtrArray)   checks = NULL;
  g_autoptr (GError)      error = NULL;
  VaeRegistryCheck       *check;

  /* not installed at all */
  g_assert_false (vae_registry_verify (registry, tiny, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, fx->user_dir));
  g_clear_error (&error);
  g_clear_pointer (&checks, g_ptr_array_unref);

  install (fx, dir, "encoder.safetensors", "decoder.safetensors");
  g_assert_true (vae_registry_verify (registry, tiny, &checks, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (checks->len, ==, 2);
  check = check_of (checks, "encoder.safetensors");
  g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_OK);
  g_assert_cmpstr (check->location, ==, enc);
  g_assert_cmpint (check_of (checks, "decoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_OK);
  g_clear_pointer (&checks, g_ptr_array_unref);

  /* one flipped bit in the tensor data: the size still matches */
  flip_byte (dec, (gsize) fx->dec_size - 3);
  g_assert_false (vae_registry_verify (registry, tiny, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "decoder.safetensors"));
  g_assert_nonnull (strstr (error->message, fx->dec_sum));
  g_clear_error (&error);
  g_assert_cmpint (check_of (checks, "encoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_OK);
  g_assert_cmpint (check_of (checks, "decoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_WRONG_SUM);
  g_clear_pointer (&checks, g_ptr_array_unref);

  /* one byte more: the size says so before any hashing */
  install (fx, dir, "encoder.safetensors", "decoder.safetensors");
  {
    FILE *f = g_fopen (enc, "ab");

    g_assert_nonnull (f);
    fputc (0, f);
    fclose (f);
  }
  g_assert_false (vae_registry_verify (registry, tiny, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_clear_error (&error);
  check = check_of (checks, "encoder.safetensors");
  g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_WRONG_SIZE);
  g_assert_nonnull (strstr (check->message, "bytes"));
  g_clear_pointer (&checks, g_ptr_array_unref);

  /* a missing half is reported as missing, in the folder of the other */
  install (fx, dir, "encoder.safetensors", "decoder.safetensors");
  g_assert_cmpint (g_unlink (dec), ==, 0);
  g_assert_false (vae_registry_verify (registry, tiny, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_clear_error (&error);
  g_assert_cmpint (check_of (checks, "encoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_OK);
  check = check_of (checks, "decoder.safetensors");
  g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_MISSING);
  g_assert_cmpstr (check->location, ==, dec);
  g_clear_pointer (&checks, g_ptr_array_unref);

  /* cancelled before it starts */
  install (fx, dir, "encoder.safetensors", "decoder.safetensors");
  {
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    g_assert_false (vae_registry_verify (registry, tiny, NULL, cancellable, &error));
    g_assert_error (error, VAE_ERROR, VAE_ERROR_CANCELLED);
  }
}

/* A safetensors file of one F32 tensor, written by hand. */
static void
write_one_tensor (const gchar *path)
{
  static const gchar header[] =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  g_autoptr (GError) error = NULL;
  GString           *file = g_string_new (NULL);
  guint64            length = sizeof header - 1;
  guint              i;

  for (i = 0; i < 8; i++)
    g_string_append_c (file, (gchar) ((length >> (8 * i)) & 0xff));
  g_string_append (file, header);
  g_string_append_len (file, "\0\0\x80\x3f", 4);
  g_file_set_contents (path, file->str, file->len, &error);
  g_assert_no_error (error);
  g_string_free (file, TRUE);
}

/* Without sums, the tensor count is what is checked. */
static void
test_verify_tensor_count (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry_isolated (fx);
  const VaeRegistryEntry *nosum = vae_registry_lookup (registry, "nosum");
  g_autofree gchar       *dir = g_build_filename (fx->user_dir, "nosum", NULL);
  g_autofree gchar       *enc = g_build_filename (dir, "nosum_encoder.safetensors", NULL);
  g_autofree gchar       *dec = g_build_filename (dir, "nosum_decoder.safetensors", NULL);
  g_autoptr (GPtrArray)   checks = NULL;
  g_autoptr (GError)      error = NULL;
  g_autofree gchar       *total = NULL;

  install (fx, dir, "nosum_encoder.safetensors", "nosum_decoder.safetensors");
  g_assert_true (vae_registry_verify (registry, nosum, &checks, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (check_of (checks, "nosum_encoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_UNCHECKED);
  g_assert_cmpint (check_of (checks, "nosum_decoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_UNCHECKED);
  g_clear_pointer (&checks, g_ptr_array_unref);

  /* an encoder of one tensor: the set holds 1 + the decoder's */
  write_one_tensor (enc);
  total = g_strdup_printf (" %u tensors", 1 + tensors_in (dec));
  g_assert_false (vae_registry_verify (registry, nosum, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, total));
  g_assert_cmpint (check_of (checks, "nosum_encoder.safetensors")->status, ==,
                   VAE_REGISTRY_STATUS_WRONG_TENSORS);
  g_clear_pointer (&checks, g_ptr_array_unref);
  g_clear_error (&error);

  /* not a safetensors file at all */
  g_file_set_contents (enc, "garbage", -1, &error);
  g_assert_no_error (error);
  g_assert_false (vae_registry_verify (registry, nosum, &checks, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
}


/* --- loading and resolving ----------------------------------------------------- */

static void
test_resolve (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry_isolated (fx);
  g_autofree gchar       *dir = g_build_filename (fx->user_dir, "tiny", NULL);
  g_autofree gchar       *mine = g_build_filename (fx->env_dir, "mine", NULL);
  g_autoptr (VaeModel)    by_id = NULL;
  g_autoptr (VaeModel)    by_path = NULL;
  g_autoptr (VaeModel)    by_default = NULL;
  g_autoptr (VaeModel)    local = NULL;
  g_autoptr (GPtrArray)   locals = NULL;
  g_autoptr (GError)      error = NULL;

  /* nothing installed: the default's error names the folders */
  assert_resolve_fails (registry, NULL, VAE_ERROR_IO, fx->env_dir, fx->user_dir,
                        NULL);

  /* an id not installed: where it looked and where to download it */
  assert_resolve_fails (registry, "ghost", VAE_ERROR_IO, "ghost.safetensors",
                        fx->user_dir, "https://example.org/ghost", NULL);

  install (fx, dir, "encoder.safetensors", "decoder.safetensors");
  by_id = vae_registry_resolve (registry, "tiny", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (vae_model_get_path (by_id), dir));
  g_assert_cmpuint (vae_model_get_latent_channels (by_id), ==, 4);
  g_assert_true (vae_model_can_encode (by_id));
  g_assert_true (vae_model_can_decode (by_id));

  by_default = vae_registry_resolve (registry, "", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_hash (by_default), ==, vae_model_get_hash (by_id));

  by_path = vae_registry_resolve (registry, fx->taesd_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_path (by_path), ==, fx->taesd_dir);
  g_assert_cmpstr (vae_model_get_hash (by_path), ==, vae_model_get_hash (by_id));

  /* a model the registry does not know, by its folder name */
  install (fx, mine, "encoder.safetensors", "decoder.safetensors");
  locals = vae_registry_find_local (registry);
  g_assert_cmpuint (locals->len, ==, 1);
  g_assert_cmpstr (((VaeRegistryLocal *) g_ptr_array_index (locals, 0))->name, ==, "mine");
  g_assert_cmpstr (((VaeRegistryLocal *) g_ptr_array_index (locals, 0))->path, ==, mine);
  local = vae_registry_resolve (registry, "mine", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_path (local), ==, mine);

  assert_resolve_fails (registry, "nothing-like-it", VAE_ERROR_IO,
                        "nothing-like-it", "tiny", fx->env_dir, NULL);
  assert_resolve_fails (registry, "/nonexistent/model", VAE_ERROR_IO, NULL);
}

/* Without the default, the first available model stands in; files that
 * are not what the registry says are refused. */
static void
test_default_fallback (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry_isolated (fx);
  g_autofree gchar       *pair = g_build_filename (fx->user_dir, "pair", NULL);
  g_autofree gchar       *wrong = g_build_filename (fx->user_dir, "wrong", NULL);
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (GError)      error = NULL;

  install (fx, pair, "encoder.safetensors", "decoder.safetensors");
  model = vae_registry_resolve (registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (vae_model_get_path (model), pair));
  g_clear_pointer (&model, vae_model_unref);

  install (fx, wrong, "wrong_encoder.safetensors", "wrong_decoder.safetensors");
  assert_resolve_fails (registry, "wrong", VAE_ERROR_MODEL_MISMATCH, NULL);

  /* marked embedded but not compiled in: its files are looked for */
  {
    const VaeRegistryEntry *ghost = vae_registry_lookup (registry, "ghost");

    g_assert_true (vae_registry_entry_is_embedded (ghost));
    g_assert_false (vae_registry_has_embedded (registry, ghost));
    g_assert_false (vae_registry_is_available (registry, ghost));
  }
}

static void
test_load_from_bytes (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree gchar  *dec = g_build_filename (fx->taesd_dir, "decoder.safetensors", NULL);
  g_autofree gchar  *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VaeModel) from_file = NULL;
  g_autoptr (VaeModel) from_bytes = NULL;
  gsize              length;

  g_file_get_contents (dec, &contents, &length, &error);
  g_assert_no_error (error);
  bytes = g_bytes_new (contents, length);

  from_bytes = vae_model_load_from_bytes (bytes, "memory:decoder", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_path (from_bytes), ==, "memory:decoder");
  g_assert_false (vae_model_can_encode (from_bytes));
  g_assert_true (vae_model_can_decode (from_bytes));

  /* the same file alone, under a name that does not pair it with an
   * encoder */
  {
    g_autofree gchar *alone = g_build_filename (fx->root, "half.safetensors", NULL);

    copy_file (dec, alone);
    from_file = vae_model_load (alone, &error);
    g_assert_no_error (error);
    g_assert_false (vae_model_can_encode (from_file));
  }
  g_assert_cmpstr (vae_model_get_hash (from_bytes), ==, vae_model_get_hash (from_file));

  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = g_bytes_new_static ("not a model", 11);
  g_clear_pointer (&from_bytes, vae_model_unref);
  from_bytes = vae_model_load_from_bytes (bytes, "memory:junk", &error);
  g_assert_null (from_bytes);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
}


/* --- the project's registry ----------------------------------------------------- */

static void
test_project_registry (void)
{
  g_autofree gchar       *path = g_test_build_filename (G_TEST_DIST, "..", "data",
                                                        "models.json", NULL);
  g_autoptr (VaeRegistry) from_file = NULL;
  g_autoptr (VaeRegistry) built_in = NULL;
  g_autoptr (GPtrArray)   a = NULL;
  g_autoptr (GPtrArray)   b = NULL;
  g_autoptr (GError)      error = NULL;
  const VaeRegistryEntry *def;
  guint                   i, j;

  from_file = vae_registry_new_from_file (path, &error);
  g_assert_no_error (error);
  built_in = vae_registry_new (&error);
  g_assert_no_error (error);

  /* the compiled-in copy is this file (a stale build would differ) */
  a = vae_registry_list (from_file);
  b = vae_registry_list (built_in);
  g_assert_cmpuint (a->len, ==, b->len);
  for (i = 0; i < a->len; i++)
    {
      const VaeRegistryEntry *x = g_ptr_array_index (a, i);
      const VaeRegistryEntry *y = g_ptr_array_index (b, i);

      g_assert_cmpstr (vae_registry_entry_get_id (x), ==, vae_registry_entry_get_id (y));
      g_assert_cmpuint (vae_registry_entry_get_n_files (x), ==, vae_registry_entry_get_n_files (y));
      for (j = 0; j < vae_registry_entry_get_n_files (x); j++)
        {
          g_assert_cmpstr (vae_registry_entry_get_file (x, j)->sha256, ==,
                           vae_registry_entry_get_file (y, j)->sha256);
          g_assert_cmpint (vae_registry_entry_get_file (x, j)->size, ==,
                           vae_registry_entry_get_file (y, j)->size);
        }
    }

  def = vae_registry_get_default (built_in);
  g_assert_nonnull (def);
  g_assert_cmpstr (vae_registry_entry_get_id (def), ==, "seed-f16-v2");
  g_assert_true (vae_registry_entry_is_embedded (def));
  g_assert_cmpuint (vae_registry_entry_get_latent_channels (def), ==, 32);
  g_assert_cmpuint (vae_registry_entry_get_factor (def), ==, 16);
}

/* --- model facts -------------------------------------------------------------- */

/* The id and name the registry gives a seed-f16 made of the file @path. */
static void
assert_seed_f16_file_is (const gchar *path,
                         const gchar *id,
                         const gchar *name)
{
  const gchar *const files[] = { path, NULL };
  VaeModelInfo       info = { .architecture = g_strdup ("seed-f16"),
                              .latent_channels = 32, .factor = 16 };

  vae_registry_identify (&info, NULL, NULL, files, NULL);
  g_assert_cmpstr (info.id, ==, id);
  g_assert_cmpstr (info.name, ==, name);
  g_free (info.id);
  g_free (info.name);
  g_free (info.architecture);
}

/* Ids, names and latent scaling come from the registry: the entry whose
 * files a model's files are (size and SHA-256 as data/models.json lists
 * them for the shipped seed-f16 models), else the first family its structure
 * fits, expected here as data/models.json words them. */
static void
test_facts (void)
{
  g_autofree gchar *shipped = test_shipped_model ("seed-f16");
  g_autofree gchar *dir = g_dir_make_tmp ("test-registry-facts-XXXXXX", NULL);
  g_autofree gchar *changed = g_build_filename (dir, "seed-f16.safetensors", NULL);
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize             length;
  static const struct
  {
    const gchar *architecture;
    guint        channels, factor;
    const gchar *trait;
    const gchar *id, *name;
    gdouble      scale, shift;
  } cases[] =
  {
    { "autoencoder-kl", 4, 8, NULL, "sd-vae",
      "Stable Diffusion VAE (SD 1.x/2.x/SDXL, 4 channels)", 0.18215, 0.0 },
    { "autoencoder-kl", 16, 8, NULL, "flux1-vae",
      "FLUX.1 VAE (16 channels; SD3 shares the layout)", 0.3611, 0.1159 },
    { "autoencoder-kl", 32, 8, "small-decoder", "flux2-vae",
      "FLUX.2 VAE (32 channels, small decoder)", 1.0, 0.0 },
    { "autoencoder-kl", 8, 8, NULL, "kl-vae-8ch", "AutoencoderKL (8 channels)",
      1.0, 0.0 },
    { "taesd", 32, 8, "pooled", "taef2", "TAEF2 (tiny autoencoder for FLUX.2)",
      1.0, 0.0 },
    { "taesd", 32, 8, NULL, "taesd-32ch",
      "TAESD-style autoencoder (32 channels)", 1.0, 0.0 },
    { "taesd", 32, 32, NULL, "taesana",
      "TAESANA (tiny autoencoder for DC-AE f32c32)", 1.0, 0.0 },
    { "seed-f16", 32, 16, NULL, "seed-f16", "seed-f16", 1.0, 0.0 },
    { "unknown", 3, 2, NULL, "unknown", "unknown", 1.0, 0.0 },
  };
  static const struct
  {
    const gchar *id, *name;
  } shipped_models[] =
  {
    { "seed-f16", "seed-f16 (first gimp-vae default model)" },
    { "seed-f16-v2", "seed-f16-v2 (gimp-vae default model)" },
  };
  guint             i;

  /* each shipped file is its registry entry */
  for (i = 0; i < G_N_ELEMENTS (shipped_models); i++)
    {
      g_autofree gchar *path = test_shipped_model (shipped_models[i].id);

      assert_seed_f16_file_is (path, shipped_models[i].id, shipped_models[i].name);
    }

  /* the same size, another sum: a seed-f16 the registry does not list */
  g_file_get_contents (shipped, &contents, &length, &error);
  g_assert_no_error (error);
  contents[length - 1] ^= 0x01;
  g_file_set_contents (changed, contents, length, &error);
  g_assert_no_error (error);
  assert_seed_f16_file_is (changed, "seed-f16", "seed-f16");
  g_unlink (changed);
  g_rmdir (dir);

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      VaeModelInfo info = { .architecture = g_strdup (cases[i].architecture),
                            .latent_channels = cases[i].channels,
                            .factor = cases[i].factor,
                            .traits = { cases[i].trait } };

      vae_registry_identify (&info, NULL, NULL, NULL, NULL);
      g_test_message ("%s %u %u: %s, %s", cases[i].architecture,
                      cases[i].channels, cases[i].factor, info.id, info.name);
      g_assert_cmpstr (info.id, ==, cases[i].id);
      g_assert_cmpstr (info.name, ==, cases[i].name);
      g_assert_cmpfloat (info.scale, ==, cases[i].scale);
      g_assert_cmpfloat (info.shift, ==, cases[i].shift);
      g_free (info.id);
      g_free (info.name);
      g_free (info.architecture);
    }
}

/* The TAEF2 entry describes the weights in shared/, by sum and size
 * (both checked against `sha256sum` and stat here as well). */
static void
test_project_taef2 (void)
{
  const gchar            *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar       *models = NULL;
  g_autofree gchar       *taef2 = NULL;
  g_autoptr (VaeRegistry) registry = NULL;
  g_autoptr (GPtrArray)   checks = NULL;
  g_autoptr (GError)      error = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autofree gchar       *found = NULL;
  const VaeRegistryEntry *entry;
  const gchar            *set = NULL;
  guint                   i;

  if (shared == NULL)
    {
      g_test_skip ("VAE_SHARED_DIR is not set");
      return;
    }
  /* the registry keeps canonical folder names */
  models = g_canonicalize_filename ("models", shared);
  taef2 = g_build_filename (models, "taef2", NULL);
  if (! g_file_test (taef2, G_FILE_TEST_IS_DIR))
    {
      g_test_skip_printf ("%s is missing", taef2);
      return;
    }

  registry = vae_registry_new (&error);
  g_assert_no_error (error);
  {
    const gchar *const path[] = { models, NULL };

    vae_registry_set_search_path (registry, path);
  }
  entry = vae_registry_lookup (registry, "taef2");
  g_assert_nonnull (entry);

  found = vae_registry_find_installed (registry, entry, &set);
  g_assert_cmpstr (found, ==, taef2);
  g_assert_cmpstr (set, ==, "safetensors");

  g_assert_true (vae_registry_verify (registry, entry, &checks, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (checks->len, ==, 2);
  for (i = 0; i < checks->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (checks, i);
      g_autofree gchar *sum = sha256sum (check->location);
      guint             j;

      g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_OK);
      for (j = 0; j < vae_registry_entry_get_n_files (entry); j++)
        {
          const VaeRegistryFile *file = vae_registry_entry_get_file (entry, j);

          if (g_str_equal (file->name, check->name))
            {
              g_assert_cmpstr (file->sha256, ==, sum);
              g_assert_cmpint (file->size, ==, size_of (check->location));
            }
        }
    }

  model = vae_registry_resolve (registry, "taef2", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_id (model), ==, "taef2");
  g_assert_cmpstr (vae_model_get_name (model), ==, vae_registry_entry_get_name (entry));
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==, 32);
  g_clear_pointer (&model, vae_model_unref);

  /* by its folder, it is the entry too: its files are the entry's */
  model = vae_model_load (taef2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_id (model), ==, "taef2");
  g_assert_cmpstr (vae_model_get_name (model), ==, vae_registry_entry_get_name (entry));
}

/* libvae's own registry with no model folders, so that only what is
 * compiled in can load. */
static VaeRegistry *
registry_built_in_only (void)
{
  g_autoptr (GError)  error = NULL;
  VaeRegistry        *registry;
  const gchar *const  nowhere[] = { NULL };

  registry = vae_registry_new (&error);
  g_assert_no_error (error);
  vae_registry_set_search_path (registry, nowhere);
  return registry;
}

/* @entry's weights are compiled in and their size and sum are the ones the
 * registry states (a trained model has its sum there). */
static void
assert_embedded_verifies (VaeRegistry            *registry,
                          const VaeRegistryEntry *entry)
{
  g_autoptr (GPtrArray) checks = NULL;
  g_autoptr (GError)    error = NULL;
  VaeRegistryCheck     *check;

  g_assert_true (vae_registry_has_embedded (registry, entry));
  g_assert_true (vae_registry_verify (registry, entry, &checks, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (checks->len, ==, 1);
  check = g_ptr_array_index (checks, 0);
  g_assert_true (g_str_has_prefix (check->location, "resource://"));
  g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_OK);
}

/* The default model's trained weights (data/models/seed-f16-v2/) are
 * compiled in, match the registry, and decode a 64x64 latent into a
 * 1024x1024 image with no files installed. */
static void
test_embedded_default (void)
{
  g_autoptr (VaeRegistry) registry = registry_built_in_only ();
  g_autoptr (GError)      error = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (VaeTensor)   z = NULL;
  g_autoptr (VaeLatent)   latent = NULL;
  g_autoptr (VaeTensor)   image = NULL;
  const VaeRegistryEntry *def = vae_registry_get_default (registry);
  const gsize             shape[3] = { 32, 64, 64 };

  /* The repository ships the default's weights and this test is built
   * only with python3, which compiles them in. */
  g_assert_cmpstr (vae_registry_entry_get_id (def), ==, "seed-f16-v2");
  assert_embedded_verifies (registry, def);

  model = vae_registry_resolve (registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==, 32);
  g_assert_cmpuint (vae_model_get_factor (model), ==, 16);

  z = vae_tensor_new (3, shape, &error);
  g_assert_no_error (error);
  latent = vae_latent_new (z, &error);
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, latent, &image, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_n_dims (image), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (image, 0), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (image, 1), ==, 1024);
  g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 1024);
}

/* A registry compiled into a GResource the way libvae's is, with a small
 * model embedded: it loads with no files anywhere. */
static void
test_embedded_fixture (void)
{
  g_autofree gchar       *dec = g_test_build_filename (G_TEST_DIST, "data", "taesd",
                                                       "taesd", "decoder.safetensors", NULL);
  g_autofree gchar       *sum = sha256sum (dec);
  g_autoptr (VaeRegistry) registry = NULL;
  g_autoptr (GPtrArray)   checks = NULL;
  g_autoptr (GError)      error = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (VaeModel)    from_file = NULL;
  const VaeRegistryEntry *entry;
  const VaeRegistryEntry *absent;
  VaeRegistryCheck       *check;
  const gchar *const      nowhere[] = { NULL };

  test_registry_resources_register_resource ();
  registry = vae_registry_new_from_resource (test_registry_resources_get_resource (),
                                             &error);
  g_assert_no_error (error);
  vae_registry_set_search_path (registry, nowhere);

  entry = vae_registry_get_default (registry);
  g_assert_cmpstr (vae_registry_entry_get_id (entry), ==, "tiny-embedded");
  /* the fixture states the sum sha256sum gives */
  g_assert_cmpstr (vae_registry_entry_get_file (entry, 0)->sha256, ==, sum);
  g_assert_cmpint (vae_registry_entry_get_file (entry, 0)->size, ==, size_of (dec));
  g_assert_true (vae_registry_has_embedded (registry, entry));
  g_assert_true (vae_registry_is_available (registry, entry));
  g_assert_null (vae_registry_find_installed (registry, entry, NULL));

  /* the generator leaves out what is not there, and the build goes on */
  absent = vae_registry_lookup (registry, "absent-embedded");
  g_assert_true (vae_registry_entry_is_embedded (absent));
  g_assert_false (vae_registry_has_embedded (registry, absent));
  g_assert_false (vae_registry_is_available (registry, absent));

  g_assert_true (vae_registry_verify (registry, entry, &checks, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (checks->len, ==, 1);
  check = g_ptr_array_index (checks, 0);
  g_assert_cmpint (check->status, ==, VAE_REGISTRY_STATUS_OK);
  g_assert_cmpstr (check->location, ==,
                   "resource:///org/gimp-vae/models/tiny-embedded/decoder.safetensors");

  model = vae_registry_resolve (registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_path (model), ==, check->location);
  g_assert_true (vae_model_can_decode (model));
  g_assert_false (vae_model_can_encode (model));

  /* the same weights as the file it was made from */
  {
    g_autoptr (GBytes) bytes = NULL;
    g_autofree gchar  *contents = NULL;
    gsize              length;

    g_file_get_contents (dec, &contents, &length, &error);
    g_assert_no_error (error);
    bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
    from_file = vae_model_load_from_bytes (bytes, "file", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (vae_model_get_hash (model), ==, vae_model_get_hash (from_file));
  }
}

/* The first default model stays compiled in beside its successor, so that
 * the latents it made keep decoding with it: a .latent file it wrote before
 * seed-f16-v2 existed (tests/data/latent/seed-f16-first.latent, a crop of
 * data/samples/kodim23.png) chooses it by the hash it records, with no
 * files installed, and the default model refuses it. */
static void
test_embedded_first (void)
{
  g_autoptr (VaeRegistry) registry = registry_built_in_only ();
  g_autoptr (GError)      error = NULL;
  g_autoptr (VaeLatent)   latent = NULL;
  g_autoptr (VaeModel)    first = NULL;
  g_autoptr (VaeModel)    def = NULL;
  g_autoptr (VaeTensor)   image = NULL;
  g_autofree gchar       *path = g_test_build_filename (G_TEST_DIST, "data", "latent",
                                                        "seed-f16-first.latent", NULL);
  const VaeRegistryEntry *entry = vae_registry_lookup (registry, "seed-f16");

  g_assert_nonnull (entry);
  g_assert_false (vae_registry_entry_is_default (entry));
  assert_embedded_verifies (registry, entry);

  latent = vae_latent_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_latent_get_model_id (latent), ==, "seed-f16");

  first = vae_registry_resolve_for_latent (registry, NULL, latent, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_id (first), ==, "seed-f16");
  g_assert_cmpstr (vae_model_get_hash (first), ==, vae_latent_get_model_hash (latent));
  g_assert_true (vae_model_decode (first, latent, &image, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_dim (image, 1), ==, 256);
  g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 384);

  def = vae_registry_resolve (registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vae_model_get_id (def), ==, "seed-f16-v2");
  g_assert_false (vae_model_check_latent (def, latent, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define FIXTURE_TEST(path, func) \
  g_test_add ("/registry/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  FIXTURE_TEST ("lookup", test_lookup);
  g_test_add_func ("/registry/malformed", test_malformed);
  g_test_add_func ("/registry/minimal", test_minimal);
  g_test_add_func ("/registry/facts", test_facts);
  FIXTURE_TEST ("search-path", test_search_path);
  FIXTURE_TEST ("search-order", test_search_order);
  FIXTURE_TEST ("sets-and-loose-files", test_sets_and_loose_files);
  FIXTURE_TEST ("verify", test_verify);
  FIXTURE_TEST ("verify-tensor-count", test_verify_tensor_count);
  FIXTURE_TEST ("resolve", test_resolve);
  FIXTURE_TEST ("default-fallback", test_default_fallback);
  FIXTURE_TEST ("load-from-bytes", test_load_from_bytes);
  g_test_add_func ("/registry/project", test_project_registry);
  g_test_add_func ("/registry/project-taef2", test_project_taef2);
  g_test_add_func ("/registry/embedded-fixture", test_embedded_fixture);
  g_test_add_func ("/registry/embedded-default", test_embedded_default);
  g_test_add_func ("/registry/embedded-first", test_embedded_first);

  return g_test_run ();
}
