/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "vae.h"

/* An 8-bit PNG as a [3, H, W] tensor with values k / 255; aborts the test
 * on a read error. */
VaeTensor * test_read_png (const gchar *path);
