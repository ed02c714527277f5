/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vae-error.h"
#include "vae-file.h"

static gboolean
write_into (const gchar   *path,
            gconstpointer  data,
            gsize          size,
            GError       **error)
{
  const guint8 *p = data;
  gint          fd;

  fd = g_open (path, O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error_literal (error, G_FILE_ERROR,
                           g_file_error_from_errno (errno),
                           g_strerror (errno));
      return FALSE;
    }
  while (size > 0)
    {
      gssize n = write (fd, p, MIN (size, (gsize) G_MAXSSIZE));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          gint saved = n < 0 ? errno : ENOSPC;

          close (fd);
          g_set_error_literal (error, G_FILE_ERROR,
                               g_file_error_from_errno (saved),
                               g_strerror (saved));
          return FALSE;
        }
      p += n;
      size -= n;
    }
  if (close (fd) != 0)
    {
      g_set_error_literal (error, G_FILE_ERROR,
                           g_file_error_from_errno (errno),
                           g_strerror (errno));
      return FALSE;
    }

  return TRUE;
}

/**
 * vae_file_write:
 * @path: the file to write
 * @data: (array length=size): its whole contents
 * @size: length of @data
 * @what: what is written, for the message ("the latent")
 * @error: return location for a #GError
 *
 * Replaces a regular file atomically (a failed write leaves the old one),
 * but writes into a device or FIFO: replacing /dev/null by a regular file
 * would break the system for everyone.
 *
 * Returns: %TRUE on success, else %FALSE with a %VAE_ERROR_IO error.
 */
gboolean
vae_file_write (const gchar    *path,
                gconstpointer   data,
                gsize           size,
                const gchar    *what,
                GError        **error)
{
  g_autoptr (GError) io_error = NULL;
  g_autofree gchar  *display = g_filename_display_name (path);
  const gchar       *reason;
  GStatBuf           st;
  gboolean           ok;

  if (g_stat (path, &st) == 0 && !S_ISREG (st.st_mode) &&
      !S_ISDIR (st.st_mode))
    ok = write_into (path, data, size, &io_error);
  else
    ok = g_file_set_contents_full (path, data, (gssize) size,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0666,
                                   &io_error);
  if (ok)
    return TRUE;

  /* GLib's message names the temporary file it writes first; the caller
   * knows only the target.
   */
  reason = io_error->message;
  if (io_error->domain == G_FILE_ERROR)
    switch (io_error->code)
      {
      case G_FILE_ERROR_NOENT:  reason = "the folder does not exist"; break;
      case G_FILE_ERROR_ACCES:  reason = "permission denied"; break;
      case G_FILE_ERROR_NOSPC:  reason = "no space left on the device"; break;
      case G_FILE_ERROR_ROFS:   reason = "read-only file system"; break;
      case G_FILE_ERROR_ISDIR:  reason = "it is a folder"; break;
      default: break;
      }
  g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot save %s to %s: %s",
               what, display, reason);

  return FALSE;
}
