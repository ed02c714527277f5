/* gimp-vae - fuzz harness: the model registry's JSON
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fuzz-common.h"
#include "vae-registry.h"

FUZZ_INITIALIZE_DEFAULT

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(VaeRegistry) registry = NULL;
  g_autoptr(GPtrArray)   entries = NULL;
  g_autoptr(GError)      error = NULL;
  guint                  i;

  registry = vae_registry_new_from_data (size ? (const gchar *) data : "",
                                         size, "fuzz.json", &error);
  if (! registry)
    {
      fuzz_check_error (error, "fuzz.json");
      return 0;
    }

  entries = vae_registry_list (registry);
  for (i = 0; i < entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (entries, i);
      guint                   j;

      g_assert_true (vae_registry_lookup (registry,
                                          vae_registry_entry_get_id (entry))
                     == entry);
      for (j = 0; j < vae_registry_entry_get_n_files (entry); j++)
        g_assert_nonnull (vae_registry_entry_get_file (entry, j)->name);
    }

  return 0;
}
