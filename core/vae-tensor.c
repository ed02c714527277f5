/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <stdlib.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-tensor-private.h"

static VaeTensor *
tensor_alloc (guint         n_dims,
              const gsize  *shape,
              gboolean      zero,
              GError      **error)
{
  VaeTensor *tensor;
  gsize      n = 1, bytes;
  gpointer   data = NULL;
  guint      i;

  if (n_dims == 0 || n_dims > VAE_TENSOR_MAX_DIMS)
    return vae_fail_null (error, VAE_ERROR_SHAPE,
                          "a tensor has 1 to %d dimensions, not %u",
                          VAE_TENSOR_MAX_DIMS, n_dims);

  for (i = 0; i < n_dims; i++)
    {
      if (shape[i] == 0)
        return vae_fail_null (error, VAE_ERROR_SHAPE,
                              "tensor dimension %u is zero", i);
      if (n > VAE_TENSOR_MAX_BYTES / sizeof (gfloat) / shape[i])
        return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                              "a tensor that large (over %" G_GSIZE_FORMAT
                              " GiB) cannot be allocated",
                              VAE_TENSOR_MAX_BYTES >> 30);
      n *= shape[i];
    }

  /* Transparent huge pages were tried for the big feature maps: a few
   * percent faster once memory is warm, but the first encode or decode
   * of a process got ~50% slower from zeroing and compacting 2 MiB pages,
   * and one-shot runs are the common case. */
  bytes = n * sizeof (gfloat);
  if (posix_memalign (&data, 64, bytes) != 0)
    data = NULL;
  if (data == NULL)
    return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                          "out of memory allocating %" G_GSIZE_FORMAT " MiB",
                          (n * sizeof (gfloat)) >> 20);
  if (zero)
    memset (data, 0, n * sizeof (gfloat));

  tensor = g_new0 (VaeTensor, 1);
  tensor->ref_count = 1;
  tensor->n_dims = n_dims;
  for (i = 0; i < n_dims; i++)
    tensor->shape[i] = shape[i];
  tensor->n_elements = n;
  tensor->capacity = n;
  tensor->data = data;

  return tensor;
}

/**
 * vae_tensor_new:
 * @n_dims: number of dimensions, 1 to %VAE_TENSOR_MAX_DIMS
 * @shape: (array length=n_dims): the size of each dimension, all non-zero
 * @error: return location for a #GError
 *
 * Allocates a zero-filled tensor.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with
 *   %VAE_ERROR_SHAPE or %VAE_ERROR_NO_MEMORY set.
 */
VaeTensor *
vae_tensor_new (guint         n_dims,
                const gsize  *shape,
                GError      **error)
{
  g_return_val_if_fail (shape != NULL, NULL);

  return tensor_alloc (n_dims, shape, TRUE, error);
}

/**
 * vae_tensor_new_3d:
 * @channels: first dimension
 * @height: second dimension
 * @width: third dimension
 * @error: return location for a #GError
 *
 * Allocates a zero-filled [channels, height, width] tensor, the shape of
 * images and latents.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set.
 */
VaeTensor *
vae_tensor_new_3d (gsize    channels,
                   gsize    height,
                   gsize    width,
                   GError **error)
{
  gsize shape[3] = { channels, height, width };

  return tensor_alloc (3, shape, TRUE, error);
}

VaeTensor *
vae_tensor_new_3d_uninit (gsize    channels,
                          gsize    height,
                          gsize    width,
                          GError **error)
{
  gsize shape[3] = { channels, height, width };

  return tensor_alloc (3, shape, FALSE, error);
}

/**
 * vae_tensor_copy:
 * @tensor: a tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new tensor with the same shape and
 *   values, or %NULL with %VAE_ERROR_NO_MEMORY.
 */
VaeTensor *
vae_tensor_copy (const VaeTensor  *tensor,
                 GError          **error)
{
  VaeTensor *copy;

  g_return_val_if_fail (tensor != NULL, NULL);

  copy = tensor_alloc (tensor->n_dims, tensor->shape, FALSE, error);
  if (copy)
    memcpy (copy->data, tensor->data, tensor->n_elements * sizeof (gfloat));

  return copy;
}

/**
 * vae_tensor_ref:
 * @tensor: a tensor
 *
 * Returns: (transfer full): @tensor
 */
VaeTensor *
vae_tensor_ref (VaeTensor *tensor)
{
  g_return_val_if_fail (tensor != NULL, NULL);

  g_atomic_int_inc (&tensor->ref_count);

  return tensor;
}

/**
 * vae_tensor_unref:
 * @tensor: (nullable): a tensor
 *
 * Drops a reference; frees the tensor with the last one.
 */
void
vae_tensor_unref (VaeTensor *tensor)
{
  if (tensor && g_atomic_int_dec_and_test (&tensor->ref_count))
    {
      free (tensor->data);
      g_free (tensor);
    }
}

/**
 * vae_tensor_get_n_dims:
 * @tensor: a tensor
 *
 * Returns: the number of dimensions.
 */
guint
vae_tensor_get_n_dims (const VaeTensor *tensor)
{
  g_return_val_if_fail (tensor != NULL, 0);

  return tensor->n_dims;
}

/**
 * vae_tensor_get_dim:
 * @tensor: a tensor
 * @dim: a dimension index
 *
 * Returns: the size of dimension @dim, or 0 if there is no such dimension.
 */
gsize
vae_tensor_get_dim (const VaeTensor *tensor,
                    guint            dim)
{
  g_return_val_if_fail (tensor != NULL, 0);

  return dim < tensor->n_dims ? tensor->shape[dim] : 0;
}

/**
 * vae_tensor_get_n_elements:
 * @tensor: a tensor
 *
 * Returns: the product of all dimensions.
 */
gsize
vae_tensor_get_n_elements (const VaeTensor *tensor)
{
  g_return_val_if_fail (tensor != NULL, 0);

  return tensor->n_elements;
}

/**
 * vae_tensor_get_data:
 * @tensor: a tensor
 *
 * Returns: (transfer none): the values, row-major, for reading and writing.
 */
gfloat *
vae_tensor_get_data (VaeTensor *tensor)
{
  g_return_val_if_fail (tensor != NULL, NULL);

  return tensor->data;
}

/**
 * vae_tensor_peek_data:
 * @tensor: a tensor
 *
 * Returns: (transfer none): the values, row-major, read only.
 */
const gfloat *
vae_tensor_peek_data (const VaeTensor *tensor)
{
  g_return_val_if_fail (tensor != NULL, NULL);

  return tensor->data;
}

/**
 * vae_tensor_same_shape:
 * @a: a tensor
 * @b: another tensor
 *
 * Returns: whether @a and @b have the same dimensions.
 */
gboolean
vae_tensor_same_shape (const VaeTensor *a,
                       const VaeTensor *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return a->n_dims == b->n_dims &&
         memcmp (a->shape, b->shape, a->n_dims * sizeof (gsize)) == 0;
}

gboolean
vae_tensor_check_same_shape (const VaeTensor  *a,
                             const VaeTensor  *b,
                             const gchar      *what,
                             GError          **error)
{
  g_autofree gchar *sa = NULL;
  g_autofree gchar *sb = NULL;

  if (vae_tensor_same_shape (a, b))
    return TRUE;

  sa = vae_tensor_shape_to_string (a);
  sb = vae_tensor_shape_to_string (b);

  return vae_fail (error, VAE_ERROR_SHAPE, "cannot %s of shapes %s and %s",
                   what, sa, sb);
}

gboolean
vae_tensor_check_chw (const VaeTensor  *tensor,
                      const gchar      *what,
                      GError          **error)
{
  g_autofree gchar *shape = NULL;

  if (tensor->n_dims == 3)
    return TRUE;

  shape = vae_tensor_shape_to_string (tensor);

  return vae_fail (error, VAE_ERROR_SHAPE,
                   "%s must have shape [channels, height, width], not %s",
                   what, shape);
}

/**
 * vae_tensor_shape_to_string:
 * @tensor: a tensor
 *
 * Returns: (transfer full): the shape as text, e.g. "[32, 64, 96]".
 */
gchar *
vae_tensor_shape_to_string (const VaeTensor *tensor)
{
  GString *s;
  guint    i;

  g_return_val_if_fail (tensor != NULL, NULL);

  s = g_string_new ("[");
  for (i = 0; i < tensor->n_dims; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? ", " : "",
                            tensor->shape[i]);
  g_string_append_c (s, ']');

  return g_string_free (s, FALSE);
}

gboolean
vae_tensor_reshape_3d (VaeTensor *tensor,
                       gsize      channels,
                       gsize      height,
                       gsize      width)
{
  gsize n = channels * height * width;

  if (n == 0 || n > tensor->capacity ||
      (height && width && channels > tensor->capacity / height / width))
    return FALSE;

  tensor->n_dims = 3;
  tensor->shape[0] = channels;
  tensor->shape[1] = height;
  tensor->shape[2] = width;
  tensor->n_elements = n;

  return TRUE;
}

void
vae_scratch_init (VaeScratch *scratch)
{
  scratch->free = g_ptr_array_new_with_free_func ((GDestroyNotify) vae_tensor_unref);
}

void
vae_scratch_clear (VaeScratch *scratch)
{
  g_clear_pointer (&scratch->free, g_ptr_array_unref);
}

VaeTensor *
vae_scratch_get (VaeScratch  *scratch,
                 gsize        channels,
                 gsize        height,
                 gsize        width,
                 GError     **error)
{
  gsize best = G_MAXSIZE;
  guint i, best_i = 0;

  if (channels == 0 || height == 0 || width == 0)
    return vae_tensor_new_3d_uninit (channels, height, width, error);

  /* The smallest free buffer that fits, so big ones stay for big maps. */
  for (i = 0; i < scratch->free->len; i++)
    {
      VaeTensor *t = g_ptr_array_index (scratch->free, i);

      if (t->capacity / width / height >= channels && t->capacity < best)
        {
          best = t->capacity;
          best_i = i;
        }
    }

  if (best != G_MAXSIZE)
    {
      VaeTensor *t = g_ptr_array_steal_index_fast (scratch->free, best_i);

      vae_tensor_reshape_3d (t, channels, height, width);
      return t;
    }

  /* Nothing fits: maps are growing (a decoder going up in resolution), so
   * the smaller free ones will not be used again. */
  g_ptr_array_set_size (scratch->free, 0);

  return vae_tensor_new_3d_uninit (channels, height, width, error);
}

void
vae_scratch_put (VaeScratch *scratch,
                 VaeTensor  *tensor)
{
  if (tensor)
    g_ptr_array_add (scratch->free, tensor);
}
