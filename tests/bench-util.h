/* gimp-vae - what the bench-*-run programs share
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "vae.h"

G_BEGIN_DECLS

gdouble     bench_cpu_seconds   (void);
VaeTensor * bench_random_tensor (gsize         channels,
                                 gsize         height,
                                 gsize         width,
                                 gdouble       lo,
                                 gdouble       hi,
                                 GError      **error);
VaeModel  * bench_load_model    (const gchar  *path);
void        bench_die           (GError       *error) G_GNUC_NORETURN;

G_END_DECLS
