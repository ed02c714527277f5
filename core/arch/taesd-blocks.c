/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* The TAESD family's layers run whole, and what they cost.  Only ops
 * below. */

#include <string.h>

#include "taesd-private.h"

gboolean
vae_taesd_block_forward (VaeRun      *run,
                         VaeScratch  *scratch,
                         const Layer *layer,
                         VaeTensor  **x,
                         GError     **error)
{
  const gsize  h = VAE_T_H (*x), w = VAE_T_W (*x);
  VaeTensor   *t1 = NULL, *t2 = NULL, *out;
  gboolean     ok = FALSE;

  if (layer->has_pool)
    {
      VaeTensor *p = vae_scratch_get (scratch, layer->pool_in.c_out, h, w, error);

      /* x = x + pool_out (relu (gn (pool_in (x)))) */
      ok = p &&
           vae_op_conv2d (run, &layer->pool_in, *x, NULL, VAE_ACT_NONE, &p, error) &&
           vae_op_group_norm (run, &layer->pool_norm, p, VAE_ACT_RELU, p, error) &&
           vae_op_conv2d (run, &layer->pool_out, p, *x, VAE_ACT_NONE, x, error);
      vae_scratch_put (scratch, p);
      if (! ok)
        return FALSE;
    }

  t1 = vae_scratch_get (scratch, layer->c0.c_out, h, w, error);
  t2 = t1 ? vae_scratch_get (scratch, layer->c0.c_out, h, w, error) : NULL;
  if (t2 == NULL)
    goto out;

  if (! vae_op_conv2d (run, &layer->c0, *x, NULL, VAE_ACT_RELU, &t1, error) ||
      ! vae_op_conv2d (run, &layer->c2, t1, NULL, VAE_ACT_RELU, &t2, error))
    goto out;

  /* out = relu (c4 (t2) + skip (x)); with an identity skip the sum lands
   * in x itself. */
  if (layer->has_skip)
    {
      out = t1;
      t1 = NULL;
      if (! vae_op_conv2d (run, &layer->skip, *x, NULL, VAE_ACT_NONE, &out, error) ||
          ! vae_op_conv2d (run, &layer->c4, t2, out, VAE_ACT_RELU, &out, error))
        {
          vae_scratch_put (scratch, out);
          goto out;
        }
      vae_scratch_put (scratch, *x);
      *x = out;
    }
  else if (! vae_op_conv2d (run, &layer->c4, t2, *x, VAE_ACT_RELU, x, error))
    {
      goto out;
    }

  ok = TRUE;

out:
  vae_scratch_put (scratch, t1);
  vae_scratch_put (scratch, t2);

  return ok;
}

/* Runs layers [first, last) of @half on @input; consumes nothing, returns
 * a new tensor. */
VaeTensor *
vae_taesd_half_forward (const Half       *half,
                        const VaeTensor  *input,
                        guint             first,
                        guint             last,
                        VaeRun           *run,
                        GError          **error)
{
  VaeScratch  scratch;
  VaeTensor  *x;
  guint       i;

  vae_scratch_init (&scratch);

  x = vae_scratch_get (&scratch, VAE_T_C (input), VAE_T_H (input),
                       VAE_T_W (input), error);
  if (x == NULL)
    goto fail;
  memcpy (x->data, input->data, input->n_elements * sizeof (gfloat));

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      switch (layer->type)
        {
        case LAYER_CONV:
          if (! vae_op_conv2d_step (run, &scratch, &layer->conv, layer->act, &x,
                                    error))
            goto fail;
          break;

        case LAYER_BLOCK:
          if (! vae_taesd_block_forward (run, &scratch, layer, &x, error))
            goto fail;
          break;

        case LAYER_RELU:
          vae_op_activate (run, x, VAE_ACT_RELU);
          break;

        case LAYER_CLAMP:
          vae_op_tanh_clamp (run, x, CLAMP_LIMIT);
          break;

        case LAYER_UPSAMPLE:
          {
            VaeTensor *y = vae_op_upsample_nearest (run, x, 2, error);

            if (y == NULL)
              goto fail;
            vae_scratch_put (&scratch, x);
            x = y;
          }
          break;
        }
    }

  vae_scratch_clear (&scratch);

  return x;

fail:
  vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return NULL;
}

void
vae_taesd_layer_size (const Layer *layer,
                      gsize       *h,
                      gsize       *w)
{
  gsize ho = *h, wo = *w;

  if (layer->type == LAYER_CONV)
    vae_conv2d_out_size (&layer->conv, *h, *w, &ho, &wo);
  else if (layer->type == LAYER_UPSAMPLE)
    {
      ho = 2 * *h;
      wo = 2 * *w;
    }
  *h = ho;
  *w = wo;
}

gdouble
vae_taesd_half_flops (const Half *half,
                      guint       first,
                      guint       last,
                      gsize       height,
                      gsize       width)
{
  gdouble flops = 0.0;
  guint   i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      switch (layer->type)
        {
        case LAYER_CONV:
          flops += vae_conv2d_flops (&layer->conv, height, width);
          break;
        case LAYER_BLOCK:
          flops += vae_conv2d_flops (&layer->c0, height, width) +
                   vae_conv2d_flops (&layer->c2, height, width) +
                   vae_conv2d_flops (&layer->c4, height, width);
          if (layer->has_skip)
            flops += vae_conv2d_flops (&layer->skip, height, width);
          if (layer->has_pool)
            flops += vae_conv2d_flops (&layer->pool_in, height, width) +
                     vae_conv2d_flops (&layer->pool_out, height, width);
          break;
        default:
          break;
        }
      vae_taesd_layer_size (layer, &height, &width);
    }

  return flops;
}
