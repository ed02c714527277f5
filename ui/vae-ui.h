/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dialog parts beyond GimpProcedureDialog's defaults.  They know GTK and
 * GIMP's config objects but nothing of models or latents: the plug-in
 * feeds them text, pixbufs and render callbacks.
 */

#pragma once

#include "vae-ui-channel-editor.h"
#include "vae-ui-model-chooser.h"
#include "vae-ui-preview.h"
