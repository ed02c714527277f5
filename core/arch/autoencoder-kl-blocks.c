/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* AutoencoderKL's blocks run whole: GroupNorm + SiLU, the ResNet block,
 * the mid-block attention, a conv step, the output head, with what each
 * costs.  Only ops below. */

#include <string.h>

#include "../vae-blas.h"
#include "../vae-error-private.h"

#include "autoencoder-kl-private.h"

#define TOKEN_BLOCK  128

/* GroupNorm, then SiLU.  The op's fused SiLU calls expf per element;
 * normalising alone and a vectorised SiLU pass is faster, even with the
 * extra pass over memory.  The reference kernels keep the fused form. */
gboolean
vae_kl_norm_silu (VaeRun              *run,
                  const VaeGroupNorm  *norm,
                  const VaeTensor     *in,
                  VaeTensor           *out,
                  GError             **error)
{
  if (run->reference)
    return vae_op_group_norm (run, norm, in, VAE_ACT_SILU, out, error);

  if (! vae_op_group_norm (run, norm, in, VAE_ACT_NONE, out, error))
    return FALSE;
  vae_op_silu (run, out);

  return TRUE;
}

gboolean
vae_kl_resnet_forward (VaeRun        *run,
                       VaeScratch    *scratch,
                       const Resnet  *r,
                       VaeTensor    **x,
                       GError       **error)
{
  const gsize  h = VAE_T_H (*x), w = VAE_T_W (*x);
  const gint   c_in = r->conv1.c_in, c_out = r->conv1.c_out;
  VaeTensor   *s = NULL, *t = NULL, *u = NULL;
  gboolean     ok = FALSE;

  if (r->has_shortcut)
    {
      /* Shortcut first: after it nothing needs x as it was, so the first
       * GroupNorm can overwrite it and the block holds three maps, not
       * four. */
      s = vae_scratch_get (scratch, c_out, h, w, error);
      if (s == NULL ||
          ! vae_op_conv2d (run, &r->shortcut, *x, NULL, VAE_ACT_NONE, &s, error) ||
          ! vae_kl_norm_silu (run, &r->norm1, *x, *x, error))
        goto out;
      t = *x;
    }
  else
    {
      t = vae_scratch_get (scratch, c_in, h, w, error);
      if (t == NULL ||
          ! vae_kl_norm_silu (run, &r->norm1, *x, t, error))
        goto out;
    }

  u = vae_scratch_get (scratch, c_out, h, w, error);
  if (u == NULL ||
      ! vae_op_conv2d (run, &r->conv1, t, NULL, VAE_ACT_NONE, &u, error))
    goto out;
  if (t != *x)
    vae_scratch_put (scratch, t);
  t = NULL;

  if (! vae_kl_norm_silu (run, &r->norm2, u, u, error))
    goto out;

  /* out = shortcut (x) + conv2 (u), the sum fused into the conv. */
  if (r->has_shortcut)
    {
      if (! vae_op_conv2d (run, &r->conv2, u, s, VAE_ACT_NONE, &s, error))
        goto out;
      vae_scratch_put (scratch, *x);
      *x = s;
      s = NULL;
    }
  else if (! vae_op_conv2d (run, &r->conv2, u, *x, VAE_ACT_NONE, x, error))
    {
      goto out;
    }

  ok = TRUE;

out:
  if (t != *x)
    vae_scratch_put (scratch, t);
  vae_scratch_put (scratch, u);
  vae_scratch_put (scratch, s);

  return ok;
}

/* out[t][o] = bias[o] + sum_i weight[o][i] in[i][t] */
static void
project_block (gsize    index,
               gint     thread,
               gpointer data)
{
  const ProjJob   *job = data;
  const VaeLinear *linear = job->linear;
  const gsize      t0 = index * TOKEN_BLOCK;
  const gsize      nb = MIN (TOKEN_BLOCK, job->n - t0);
  const gint       c = linear->d_out;
  gsize            t;
  gint             o;

  vae_sgemm (TRUE, TRUE, (gint) nb, c, c, 1.0f, job->in + t0, (gint) job->stride,
             linear->weight, c, 0.0f, job->out + t0 * c, c);
  for (t = 0; t < nb; t++)
    {
      gfloat *row = job->out + (t0 + t) * c;

      for (o = 0; o < c; o++)
        row[o] += linear->bias[o];
    }
}

/* out[o][t] += bias[o] + sum_i weight[o][i] in[t][i]: the output
 * projection and the residual add in one.  The product goes to a small
 * buffer first; written straight into out, whose rows are n floats apart
 * (a power of two for usual sizes), its rows would share cache sets. */
static void
unproject_block (gsize    index,
                 gint     thread,
                 gpointer data)
{
  const ProjJob   *job = data;
  const VaeLinear *linear = job->linear;
  const gsize      t0 = index * TOKEN_BLOCK;
  const gsize      nb = MIN (TOKEN_BLOCK, job->n - t0);
  const gint       c = linear->d_out;
  gfloat          *acc = job->acc[thread];
  gsize            t;
  gint             o;

  vae_sgemm (FALSE, TRUE, c, (gint) nb, c, 1.0f, linear->weight, c,
             job->in + t0 * c, c, 0.0f, acc, (gint) nb);
  for (o = 0; o < c; o++)
    {
      gfloat       *row = job->out + (gsize) o * job->stride + t0;
      const gfloat *a = acc + (gsize) o * nb;
      const gfloat  b = linear->bias[o];

      for (t = 0; t < nb; t++)
        row[t] += a[t] + b;
    }
}

/* The same two maps as plain loops in double, for run->reference. */
static void
project_reference (const ProjJob *job,
                   gboolean       unproject)
{
  const VaeLinear *linear = job->linear;
  const gint       c = linear->d_out;
  gsize            t;
  gint             o, i;

  for (t = 0; t < job->n; t++)
    for (o = 0; o < c; o++)
      {
        gdouble sum = linear->bias[o];

        for (i = 0; i < c; i++)
          sum += (gdouble) linear->weight[(gsize) o * c + i] *
                 (unproject ? job->in[t * c + i] : job->in[(gsize) i * job->stride + t]);
        if (unproject)
          job->out[(gsize) o * job->stride + t] += (gfloat) sum;
        else
          job->out[t * c + o] = (gfloat) sum;
      }
}

gboolean
vae_kl_project (VaeRun        *run,
                ProjJob       *job,
                gboolean       unproject,
                GError       **error)
{
  const gsize n_blocks = (job->n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
  gboolean    ok = TRUE;
  gint        i;

  if (run->reference)
    {
      project_reference (job, unproject);
    }
  else if (! unproject)
    {
      vae_parallel_for (run, n_blocks, project_block, job);
    }
  else
    {
      job->acc = g_new0 (gfloat *, run->n_threads);
      for (i = 0; i < run->n_threads && ok; i++)
        ok = (job->acc[i] = g_try_malloc ((gsize) job->linear->d_out *
                                          TOKEN_BLOCK * sizeof (gfloat))) != NULL;
      if (ok)
        vae_parallel_for (run, n_blocks, unproject_block, job);
      for (i = 0; i < run->n_threads; i++)
        g_free (job->acc[i]);
      g_clear_pointer (&job->acc, g_free);
      if (! ok)
        return vae_fail (error, VAE_ERROR_NO_MEMORY,
                         "out of memory for attention buffers");
    }

  return vae_run_advance (run, vae_linear_flops (job->linear, job->n), error);
}

/* x += proj_out (attention (q (t), k (t), v (t))), t = GroupNorm (x). */
gboolean
vae_kl_attention_forward (VaeRun           *run,
                          VaeScratch       *scratch,
                          const Attention  *a,
                          VaeTensor        *x,
                          GError          **error)
{
  const gsize  h = VAE_T_H (x), w = VAE_T_W (x), n = h * w;
  const gint   c = a->channels;
  VaeTensor   *t, *q = NULL, *k = NULL, *v = NULL;
  ProjJob      job = { 0, };
  gboolean     ok = FALSE;

  /* Token-major [n, C] buffers, shaped [C, h, w] only to come from the
   * scratch list. */
  t = vae_scratch_get (scratch, c, h, w, error);
  if (t == NULL ||
      ! (q = vae_scratch_get (scratch, c, h, w, error)) ||
      ! (k = vae_scratch_get (scratch, c, h, w, error)) ||
      ! (v = vae_scratch_get (scratch, c, h, w, error)))
    goto out;

  if (! vae_op_group_norm (run, &a->norm, x, VAE_ACT_NONE, t, error))
    goto out;

  job.in = t->data;
  job.n = n;
  job.stride = n;
  job.linear = &a->q;
  job.out = q->data;
  if (! vae_kl_project (run, &job, FALSE, error))
    goto out;
  job.linear = &a->k;
  job.out = k->data;
  if (! vae_kl_project (run, &job, FALSE, error))
    goto out;
  job.linear = &a->v;
  job.out = v->data;
  if (! vae_kl_project (run, &job, FALSE, error))
    goto out;

  /* The normalised map is no longer needed: the attention output goes
   * there. */
  if (! vae_op_attention (run, &a->attn, q->data, k->data, v->data, n,
                          t->data, error))
    goto out;

  job.linear = &a->out;
  job.in = t->data;
  job.out = x->data;
  ok = vae_kl_project (run, &job, TRUE, error);

out:
  vae_scratch_put (scratch, t);
  vae_scratch_put (scratch, q);
  vae_scratch_put (scratch, k);
  vae_scratch_put (scratch, v);

  return ok;
}

/* The last GroupNorm + SiLU in place, then the output conv into a tensor
 * of its own: scratch maps may be far larger than the result. */
VaeTensor *
vae_kl_head_forward (VaeRun           *run,
                     const Half       *half,
                     const VaeConv2d  *conv,
                     VaeTensor        *x,
                     GError          **error)
{
  VaeTensor *y = NULL;

  if (! vae_kl_norm_silu (run, &half->norm_out, x, x, error) ||
      ! vae_op_conv2d (run, conv, x, NULL, VAE_ACT_NONE, &y, error))
    return NULL;

  return y;
}

gdouble
vae_kl_resnet_flops (const Resnet *r,
                     gsize         h,
                     gsize         w)
{
  return vae_conv2d_flops (&r->conv1, h, w) + vae_conv2d_flops (&r->conv2, h, w) +
         (r->has_shortcut ? vae_conv2d_flops (&r->shortcut, h, w) : 0.0);
}

/* [0, 1] -> [-1, 1] into a scratch map. */
VaeTensor *
vae_kl_encoder_input (VaeScratch       *scratch,
                      const VaeTensor  *image,
                      GError          **error)
{
  VaeTensor *x = vae_scratch_get (scratch, 3, VAE_T_H (image), VAE_T_W (image),
                                  error);
  gsize      i;

  if (x == NULL)
    return NULL;
  for (i = 0; i < image->n_elements; i++)
    x->data[i] = image->data[i] * 2.0f - 1.0f;

  return x;
}

gboolean
vae_kl_check_latent (const Half       *d,
                     const VaeTensor  *latent,
                     GError          **error)
{
  if (latent->n_dims != 3 || VAE_T_C (latent) != (gsize) d->z)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (latent);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "the KL decoder takes [%d, h, w] latents, not %s", d->z,
                   shape);
      return FALSE;
    }

  return TRUE;
}

/* [-1, 1] -> [0, 1]; vae_model_decode clamps. */
void
vae_kl_decoder_output (VaeTensor *y)
{
  gsize i;

  for (i = 0; i < y->n_elements; i++)
    y->data[i] = (y->data[i] + 1.0f) * 0.5f;
}

/* Peak feature maps of an untiled run (a VaeScratch keeps few maps beyond
 * those live at one time): a ResNet block holds three maps, the attention
 * five, a resampling conv its input and output.  In floats. */
gsize
vae_kl_resnet_memory (const Resnet *r,
                      gsize         n)
{
  return ((gsize) r->conv1.c_in + 2 * (gsize) r->conv1.c_out) * n;
}
