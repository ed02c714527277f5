/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* A syntax check of JSON from files, run before json-glib builds a tree of
 * it: json-glib trusts its input further than a file deserves (see
 * vae-json-private.h).  One pass, no recursion, no allocation beyond the
 * stack of open containers, which @max_depth bounds.
 */

#include <string.h>

#include "vae-json-private.h"

typedef struct
{
  const guint8 *text;
  gsize         length;
  gsize         pos;
  gchar        *problem;
} Scan;

static gboolean G_GNUC_PRINTF (2, 3)
fail (Scan        *s,
      const gchar *format,
      ...)
{
  g_autofree gchar *what = NULL;
  va_list           args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  if (! s->problem)
    s->problem = g_strdup_printf ("byte %" G_GSIZE_FORMAT ": %s", s->pos,
                                  what);

  return FALSE;
}

static void
skip_space (Scan *s)
{
  while (s->pos < s->length &&
         (s->text[s->pos] == ' ' || s->text[s->pos] == '\t' ||
          s->text[s->pos] == '\n' || s->text[s->pos] == '\r'))
    s->pos++;
}

static gboolean
at (Scan   *s,
    guint8  c)
{
  return s->pos < s->length && s->text[s->pos] == c;
}

static gboolean
is_digit (Scan *s)
{
  return s->pos < s->length && g_ascii_isdigit (s->text[s->pos]);
}

static gint
hex4 (Scan *s)
{
  gint  value = 0;
  guint i;

  if (s->length - s->pos < 4)
    return -1;
  for (i = 0; i < 4; i++)
    {
      gint digit = g_ascii_xdigit_value (s->text[s->pos + i]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  s->pos += 4;

  return value;
}

/* After the opening quote, up to and including the closing one.  Surrogate
 * halves must pair and U+0000 is refused: names become C strings. */
static gboolean
scan_string (Scan *s)
{
  for (;;)
    {
      guint8 c;

      if (s->pos >= s->length)
        return fail (s, "a string runs to the end of the text");
      c = s->text[s->pos];

      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return fail (s, "control character 0x%02x inside a string", c);
      if (c != '\\')
        {
          s->pos++;
          continue;
        }

      s->pos++;
      if (s->pos >= s->length)
        return fail (s, "a string runs to the end of the text");
      c = s->text[s->pos++];
      if (c == 'u')
        {
          gint code = hex4 (s);

          if (code < 0)
            return fail (s, "\\u without four hex digits");
          if (code == 0)
            return fail (s, "\\u0000 inside a string");
          if (code >= 0xdc00 && code <= 0xdfff)
            return fail (s, "a lone low surrogate \\u%04x", code);
          if (code >= 0xd800 && code <= 0xdbff)
            {
              gint low;

              if (s->length - s->pos < 2 || s->text[s->pos] != '\\' ||
                  s->text[s->pos + 1] != 'u')
                return fail (s, "a high surrogate \\u%04x without its low "
                             "half", code);
              s->pos += 2;
              low = hex4 (s);
              if (low < 0xdc00 || low > 0xdfff)
                return fail (s, "a high surrogate \\u%04x without its low "
                             "half", code);
            }
        }
      else if (! strchr ("\"\\/bfnrt", c) || c == '\0')
        {
          s->pos--;
          return fail (s, "unknown escape \\%c inside a string",
                       g_ascii_isprint (c) ? c : '?');
        }
    }
}

static gboolean
scan_number (Scan *s)
{
  if (at (s, '-'))
    s->pos++;
  if (at (s, '0'))
    s->pos++;
  else if (is_digit (s))
    while (is_digit (s))
      s->pos++;
  else
    return fail (s, "a number without digits");

  if (at (s, '.'))
    {
      s->pos++;
      if (! is_digit (s))
        return fail (s, "a number without digits after its point");
      while (is_digit (s))
        s->pos++;
    }
  if (at (s, 'e') || at (s, 'E'))
    {
      s->pos++;
      if (at (s, '+') || at (s, '-'))
        s->pos++;
      if (! is_digit (s))
        return fail (s, "a number without digits in its exponent");
      while (is_digit (s))
        s->pos++;
    }

  return TRUE;
}

static gboolean
scan_word (Scan        *s,
           const gchar *word)
{
  gsize n = strlen (word);

  if (s->length - s->pos < n || memcmp (s->text + s->pos, word, n) != 0)
    return fail (s, "unexpected character '%c'",
                 g_ascii_isprint (s->text[s->pos]) ? s->text[s->pos] : '?');
  s->pos += n;

  return TRUE;
}

/* An object member's key and its colon, up to the member's value. */
static gboolean
scan_key (Scan *s)
{
  if (! at (s, '"'))
    return fail (s, "an object member without a string key");
  s->pos++;
  if (! scan_string (s))
    return FALSE;
  skip_space (s);
  if (! at (s, ':'))
    return fail (s, "an object key without ':'");
  s->pos++;
  skip_space (s);

  return TRUE;
}

gboolean
vae_json_check (const gchar  *text,
                gsize         length,
                guint         max_depth,
                guint64       max_values,
                gchar       **problem)
{
  g_autofree guint8 *open = g_malloc (MAX (max_depth, 1));
  Scan               s = { (const guint8 *) text, length, 0, NULL };
  const gchar       *end = NULL;
  guint              depth = 0;
  guint64            n_values = 0;
  gboolean           ok = TRUE;

  g_return_val_if_fail (text != NULL || length == 0, FALSE);

  /* JSON text is UTF-8; within strings, the bytes are taken as they are. */
  if (! g_utf8_validate_len (text, length, &end))
    {
      s.pos = end - text;
      ok = fail (&s, "the text is not UTF-8");
    }

  skip_space (&s);
  if (ok && s.pos >= length)
    ok = fail (&s, "no JSON value");

  /* Each turn reads one value, then the punctuation after it, closing
   * containers, up to the start of the next value. */
  while (ok)
    {
      guint8 c = s.text[s.pos];

      if (++n_values > max_values)
        {
          ok = fail (&s, "more than %" G_GUINT64_FORMAT " JSON values",
                     max_values);
          break;
        }

      if (c == '{' || c == '[')
        {
          if (depth >= max_depth)
            {
              ok = fail (&s, "nests deeper than %u levels", max_depth);
              break;
            }
          open[depth++] = c;
          s.pos++;
          skip_space (&s);
          if (at (&s, c == '{' ? '}' : ']'))
            {
              depth--;
              s.pos++;
            }
          else
            {
              /* an object's first key: the member's value is next */
              if (c == '{' && ! (ok = scan_key (&s)))
                break;
              if (s.pos >= length)
                {
                  ok = fail (&s, "the text ends inside %s",
                             c == '{' ? "an object" : "an array");
                  break;
                }
              continue;
            }
        }
      else if (c == '"')
        {
          s.pos++;
          ok = scan_string (&s);
        }
      else if (c == '-' || g_ascii_isdigit (c))
        {
          ok = scan_number (&s);
        }
      else if (c == 't')
        {
          ok = scan_word (&s, "true");
        }
      else if (c == 'f')
        {
          ok = scan_word (&s, "false");
        }
      else if (c == 'n')
        {
          ok = scan_word (&s, "null");
        }
      else
        {
          ok = fail (&s, "unexpected character '%c'",
                     g_ascii_isprint (c) ? c : '?');
        }
      if (! ok)
        break;

      /* a value is complete: close what it completes */
      for (;;)
        {
          skip_space (&s);
          if (depth == 0)
            break;
          if (s.pos >= length)
            {
              ok = fail (&s, "the text ends inside %s",
                         open[depth - 1] == '{' ? "an object" : "an array");
              break;
            }
          if (at (&s, open[depth - 1] == '{' ? '}' : ']'))
            {
              depth--;
              s.pos++;
              continue;
            }
          if (! at (&s, ','))
            {
              ok = fail (&s, "expected ',' or '%c'",
                         open[depth - 1] == '{' ? '}' : ']');
              break;
            }
          s.pos++;
          skip_space (&s);
          if (open[depth - 1] == '{' && ! (ok = scan_key (&s)))
            break;
          if (s.pos >= length)
            ok = fail (&s, "the text ends inside %s",
                       open[depth - 1] == '{' ? "an object" : "an array");
          break;
        }
      if (! ok)
        break;

      if (depth == 0)
        {
          if (s.pos < length)
            ok = fail (&s, "more text after the JSON value");
          break;
        }
    }

  if (problem)
    *problem = g_steal_pointer (&s.problem);
  g_free (s.problem);

  return ok;
}
