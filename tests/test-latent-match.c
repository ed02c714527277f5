/* gimp-vae tests: which model may decode which latents (suite latent)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae_model_check_latent() and vae_registry_resolve_for_latent() on the
 * small random-weight models of tests/data/taesd: "taesd" (4 channels) and
 * "taef1" (16 channels).  The expected answers follow from how each
 * latent is made here: encoded by one model, or labelled by hand with an
 * id, a hash or neither.  The registry's search path is a temporary
 * folder holding copies of the two models: "taesd" (named like its id)
 * and "wide" (taef1 under another name).
 */

#include <string.h>

#include <glib/gstdio.h>

#include "vae.h"
#include "test-util.h"

typedef struct
{
  gchar    *root;         /* the registry's search path */
  VaeModel *taesd;
  VaeModel *taef1;
} Fixture;

static gchar *
source_model (const gchar *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "taesd", name, NULL);
}

static void
copy_model (const gchar *from,
            const gchar *to)
{
  const gchar *const files[] = { "encoder.safetensors", "decoder.safetensors" };
  guint              i;

  g_assert_cmpint (g_mkdir_with_parents (to, 0755), ==, 0);
  for (i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree gchar  *src = g_build_filename (from, files[i], NULL);
      g_autofree gchar  *dst = g_build_filename (to, files[i], NULL);
      g_autofree gchar  *contents = NULL;
      g_autoptr (GError) error = NULL;
      gsize              length;

      g_file_get_contents (src, &contents, &length, &error);
      g_assert_no_error (error);
      g_file_set_contents (dst, contents, length, &error);
      g_assert_no_error (error);
    }
}

static VaeModel *
load (const gchar *name)
{
  g_autofree gchar  *path = source_model (name);
  g_autoptr (GError) error = NULL;
  VaeModel          *model;

  model = vae_model_load (path, &error);
  g_assert_no_error (error);

  return model;
}

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree gchar  *taesd = source_model ("taesd");
  g_autofree gchar  *taef1 = source_model ("taef1");
  g_autofree gchar  *a = NULL;
  g_autofree gchar  *b = NULL;
  g_autoptr (GError) error = NULL;

  fx->root = g_dir_make_tmp ("test-latent-match-XXXXXX", &error);
  g_assert_no_error (error);
  a = g_build_filename (fx->root, "taesd", NULL);
  b = g_build_filename (fx->root, "wide", NULL);
  copy_model (taesd, a);
  copy_model (taef1, b);

  fx->taesd = load ("taesd");
  fx->taef1 = load ("taef1");
  g_assert_cmpstr (vae_model_get_id (fx->taesd), ==, "taesd");
  g_assert_cmpstr (vae_model_get_id (fx->taef1), ==, "taef1");
  g_assert_cmpuint (vae_model_get_latent_channels (fx->taesd), ==, 4);
  g_assert_cmpuint (vae_model_get_latent_channels (fx->taef1), ==, 16);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  test_remove_dir (fx->root);
  g_free (fx->root);
  vae_model_unref (fx->taesd);
  vae_model_unref (fx->taef1);
}

/* Latents of @channels x 2 x 2, labelled as given (NULL: not at all). */
static VaeLatent *
labelled (guint        channels,
          const gchar *id,
          const gchar *hash)
{
  VaeTensor *tensor = vae_tensor_new_3d (channels, 2, 2, NULL);
  VaeLatent *latent = vae_latent_new (tensor, NULL);

  vae_tensor_unref (tensor);
  if (id != NULL || hash != NULL)
    vae_latent_set_model (latent, id, hash);

  return latent;
}

static VaeLatent *
encoded_by (VaeModel *model)
{
  g_autoptr (VaeTensor) image = vae_tensor_new_3d (3, 16, 16, NULL);
  g_autoptr (GError)    error = NULL;
  VaeLatent            *latent = NULL;

  g_assert_true (vae_model_encode (model, image, &latent, NULL, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);

  return latent;
}

static VaeRegistry *
fixture_registry (Fixture *fx)
{
  const gchar *const      path[] = { fx->root, NULL };
  g_autoptr (GError)      error = NULL;
  VaeRegistry            *registry;

  /* one registered model, not installed: never a candidate */
  registry = vae_registry_new_from_data ("{\"format_version\": 1, \"models\": [{"
                                         "\"id\": \"absent\", \"name\": \"Absent\", "
                                         "\"architecture\": \"taesd\", "
                                         "\"latent_channels\": 4, \"factor\": 8, "
                                         "\"files\": [{\"name\": \"absent.safetensors\"}]}]}",
                                         -1, "fixture", &error);
  g_assert_no_error (error);
  vae_registry_set_search_path (registry, path);

  return registry;
}

static void
assert_check (VaeModel        *model,
              const VaeLatent *latent,
              gint             code)
{
  g_autoptr (GError) error = NULL;
  gboolean           ok = vae_model_check_latent (model, latent, &error);

  if (code < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_error (error, VAE_ERROR, code);
      g_assert_false (ok);
    }
}

static void
test_check (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr (VaeLatent) own = encoded_by (fx->taesd);
  g_autoptr (VaeLatent) wide = encoded_by (fx->taef1);
  g_autoptr (VaeLatent) anonymous = labelled (4, NULL, NULL);
  g_autoptr (VaeLatent) anonymous_16 = labelled (16, NULL, NULL);
  g_autoptr (VaeLatent) by_id = labelled (4, "taesd", NULL);
  g_autoptr (VaeLatent) by_other_id = labelled (4, "other", NULL);
  g_autoptr (VaeLatent) other_hash = labelled (4, "taesd", "sha256:0000");
  /* the hash decides over the id */
  g_autoptr (VaeLatent) own_hash_other_id = labelled (4, "other",
                                                      vae_model_get_hash (fx->taesd));
  g_autoptr (VaeLatent) own_hash_16 = labelled (16, "taesd",
                                                vae_model_get_hash (fx->taesd));

  assert_check (fx->taesd, own, -1);
  assert_check (fx->taef1, wide, -1);
  assert_check (fx->taef1, own, VAE_ERROR_MODEL_MISMATCH);
  assert_check (fx->taesd, wide, VAE_ERROR_MODEL_MISMATCH);
  assert_check (fx->taesd, anonymous, -1);
  assert_check (fx->taesd, anonymous_16, VAE_ERROR_SHAPE);
  assert_check (fx->taesd, by_id, -1);
  assert_check (fx->taesd, by_other_id, VAE_ERROR_MODEL_MISMATCH);
  assert_check (fx->taesd, other_hash, VAE_ERROR_MODEL_MISMATCH);
  assert_check (fx->taesd, own_hash_other_id, -1);
  assert_check (fx->taesd, own_hash_16, VAE_ERROR_SHAPE);
}

/* An encoder alone cannot decode anything. */
static void
test_check_encoder_only (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree gchar      *dir = source_model ("taesd");
  g_autofree gchar      *path = g_build_filename (dir, "encoder.safetensors", NULL);
  g_autoptr (GError)     error = NULL;
  g_autoptr (VaeModel)   encoder = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  g_autofree gchar      *alone = g_build_filename (fx->root, "alone", NULL);
  g_autofree gchar      *alone_file = g_build_filename (alone, "encoder.safetensors", NULL);
  g_autofree gchar      *contents = NULL;
  gsize                  length;

  /* alone in its folder, so that the decoder beside it is not found */
  g_assert_cmpint (g_mkdir_with_parents (alone, 0755), ==, 0);
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (alone_file, contents, length, &error);
  g_assert_no_error (error);

  encoder = vae_model_load (alone_file, &error);
  g_assert_no_error (error);
  g_assert_false (vae_model_can_decode (encoder));
  latent = encoded_by (encoder);
  assert_check (encoder, latent, VAE_ERROR_UNSUPPORTED);
}

/* vae_model_decode() makes the same check; force lifts only the origin. */
static void
test_decode_checks (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr (VaeLatent) other_hash = labelled (4, "taesd", "sha256:0000");
  g_autoptr (VaeLatent) wide = encoded_by (fx->taef1);
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (GError)    error = NULL;
  VaeOptions            options;

  vae_options_init (&options);
  g_assert_false (vae_model_decode (fx->taesd, other_hash, &image, &options,
                                    NULL, NULL, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
  g_clear_error (&error);

  options.force = TRUE;
  g_assert_true (vae_model_decode (fx->taesd, other_hash, &image, &options,
                                   NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 2 * 8);
  g_clear_pointer (&image, vae_tensor_unref);

  g_assert_false (vae_model_decode (fx->taesd, wide, &image, &options,
                                    NULL, NULL, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
}

static void
test_list_available (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry (fx);
  g_auto (GStrv)          names = vae_registry_list_available (registry);

  /* "absent" is registered but not installed; the others sorted by name */
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "taesd");
  g_assert_cmpstr (names[1], ==, "wide");
}

static gboolean
model_in (VaeModel    *model,
          Fixture     *fx,
          const gchar *folder)
{
  g_autofree gchar *prefix = g_build_filename (fx->root, folder, NULL);

  return g_str_has_prefix (vae_model_get_path (model), prefix);
}

static void
test_resolve_for_latent (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry (fx);
  g_autoptr (VaeLatent)   own = encoded_by (fx->taesd);
  g_autoptr (VaeLatent)   wide = encoded_by (fx->taef1);
  g_autoptr (VaeLatent)   anonymous = labelled (4, NULL, NULL);
  g_autoptr (VaeLatent)   ghost = labelled (4, "ghost", "sha256:0000");
  g_autoptr (VaeLatent)   hash_over_id = labelled (16, "taesd",
                                                   vae_model_get_hash (fx->taef1));
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (GError)      error = NULL;

  /* found by name = id */
  model = vae_registry_resolve_for_latent (registry, NULL, own, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "taesd"));
  g_assert_cmpstr (vae_model_get_hash (model), ==, vae_model_get_hash (fx->taesd));
  g_clear_pointer (&model, vae_model_unref);

  /* no "taef1" folder: found by loading the others */
  model = vae_registry_resolve_for_latent (registry, "", wide, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "wide"));
  g_clear_pointer (&model, vae_model_unref);

  /* the hash decides: the folder named like the id holds other weights */
  model = vae_registry_resolve_for_latent (registry, NULL, hash_over_id, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "wide"));
  g_clear_pointer (&model, vae_model_unref);

  /* a model the user names is taken as is; the check then refuses it */
  model = vae_registry_resolve_for_latent (registry, "wide", own, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "wide"));
  assert_check (model, own, VAE_ERROR_MODEL_MISMATCH);
  g_clear_pointer (&model, vae_model_unref);

  /* latents that name no model get the default: the first available */
  model = vae_registry_resolve_for_latent (registry, NULL, anonymous, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "taesd"));
  g_clear_pointer (&model, vae_model_unref);

  model = vae_registry_resolve_for_latent (registry, NULL, ghost, &error);
  g_assert_null (model);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
  g_assert_nonnull (strstr (error->message, "ghost"));
}

/* .vaez headers keep the id and the first 16 hex digits of the hash. */
static void
test_resolve_made_by (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr (VaeRegistry) registry = fixture_registry (fx);
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (GError)      error = NULL;
  g_autofree gchar       *prefix = g_strndup (vae_model_get_hash (fx->taef1) +
                                              strlen ("sha256:"), 16);
  g_autofree gchar       *wrong = g_strdup (prefix);

  model = vae_registry_resolve_made_by (registry, "taef1", prefix, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "wide"));
  g_clear_pointer (&model, vae_model_unref);

  /* the id alone: no folder is called so, and the model in "wide" says
   * its id is "taef1" */
  model = vae_registry_resolve_made_by (registry, "taef1", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "wide"));
  g_clear_pointer (&model, vae_model_unref);

  wrong[0] = wrong[0] == '0' ? '1' : '0';
  model = vae_registry_resolve_made_by (registry, "taef1", wrong, &error);
  g_assert_null (model);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
  g_clear_error (&error);

  /* neither: the default, the first available */
  model = vae_registry_resolve_made_by (registry, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (model_in (model, fx, "taesd"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/latent-match/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)
  ADD ("check", test_check);
  ADD ("check-encoder-only", test_check_encoder_only);
  ADD ("decode-checks", test_decode_checks);
  ADD ("list-available", test_list_available);
  ADD ("resolve-for-latent", test_resolve_for_latent);
  ADD ("resolve-made-by", test_resolve_made_by);
#undef ADD

  return g_test_run ();
}
