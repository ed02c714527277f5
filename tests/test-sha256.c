/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae_sha256 against FIPS 180-4's published examples and against GLib's
 * GChecksum, on the portable path and on the SHA extensions where the CPU
 * has them: the model fingerprints recorded in latents and .vaez files
 * must not depend on the machine.
 */

#include <string.h>

#include "vae-sha256-private.h"

static void
digest (gconstpointer  data,
        gsize          size,
        gsize          split,
        gboolean       plain,
        gchar          hex[VAE_SHA256_HEX_LENGTH + 1])
{
  VaeSha256 sha;

  vae_sha256_init (&sha, plain);
  vae_sha256_update (&sha, data, split);
  vae_sha256_update (&sha, (const guint8 *) data + split, size - split);
  vae_sha256_finish (&sha, hex);
}

/* FIPS 180-4 appendix B.1 and B.2, and the empty message. */
static void
test_published (void)
{
  static const struct
  {
    const gchar *message;
    const gchar *sum;
  } cases[] = {
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
  };
  guint plain, i;

  for (plain = 0; plain < 2; plain++)
    for (i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        gchar hex[VAE_SHA256_HEX_LENGTH + 1];
        gsize size = strlen (cases[i].message);

        digest (cases[i].message, size, size / 2, plain, hex);
        g_assert_cmpstr (hex, ==, cases[i].sum);
      }
}

/* Every length around the padding's edges and a large buffer, split in
 * places that leave partial blocks on both sides. */
static void
test_against_gchecksum (void)
{
  const gsize sizes[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 1 << 20 };
  g_autofree guint8 *data = g_malloc ((1 << 20) + 1);
  g_autoptr (GRand)  rand = g_rand_new_with_seed (180);
  gsize              i, s;

  for (i = 0; i < (1 << 20) + 1; i++)
    data[i] = (guint8) g_rand_int (rand);

  if (! vae_sha256_has_extensions ())
    g_test_message ("no SHA extensions on this CPU: the portable path twice");

  for (s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      g_autoptr (GChecksum) ref = g_checksum_new (G_CHECKSUM_SHA256);
      const gsize           splits[] = { 0, sizes[s] / 3, sizes[s] };
      guint                 plain, k;

      g_checksum_update (ref, data, sizes[s]);
      for (plain = 0; plain < 2; plain++)
        for (k = 0; k < G_N_ELEMENTS (splits); k++)
          {
            gchar hex[VAE_SHA256_HEX_LENGTH + 1];

            digest (data, sizes[s], splits[k], plain, hex);
            g_assert_cmpstr (hex, ==, g_checksum_get_string (ref));
          }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sha256/published", test_published);
  g_test_add_func ("/sha256/against-gchecksum", test_against_gchecksum);

  return g_test_run ();
}
