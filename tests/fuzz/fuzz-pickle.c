/* gimp-vae - fuzz harness: the pickle reader on its own (a checkpoint's
 * data.pkl, without the zip around it)
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fuzz-common.h"
#include "pth-private.h"

FUZZ_INITIALIZE_DEFAULT

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GPtrArray) tensors = NULL;
  g_autoptr(GError)    error = NULL;
  guint                i;

  tensors = vae_pickle_load_tensors (data, size, "fuzz.pkl", &error);
  if (! tensors)
    {
      /* as vae_weights_parse() passes it on */
      vae_error_tidy (error);
      fuzz_check_error (error, "fuzz.pkl: ");
      return 0;
    }

  /* what the reader promises about every view */
  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      guint64                n = 1;
      guint64                last = t->offset;
      guint                  d;

      g_assert_nonnull (t->name);
      g_assert_nonnull (t->storage_key);
      g_assert_cmpuint (t->n_dims, <=, VAE_WEIGHT_MAX_DIMS);
      for (d = 0; d < t->n_dims; d++)
        {
          n *= t->shape[d];
          if (t->shape[d] > 0)
            last += (t->shape[d] - 1) * t->stride[d];
        }
      g_assert_cmpuint (n, ==, t->n_elements);
      if (n > 0)
        g_assert_cmpuint (last, <, t->storage_numel);
    }

  return 0;
}
