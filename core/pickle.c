/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* A pickle reader for what torch.save writes for a state dict, and nothing
 * more.  Python's unpickler imports any global a file names and calls it;
 * this one knows a fixed list of globals (OrderedDict, the tensor rebuild
 * functions, the storage types, and a few classes training checkpoints
 * carry beside their tensors) and models them as plain data, so nothing in
 * a checkpoint can run code.  Every other global and opcode is refused by
 * name.  Both of torch's formats are read: the zip archive's data.pkl, and
 * the legacy file (before torch 1.6), a run of five pickles followed by the
 * storages' bytes.
 */

#include <stdarg.h>
#include <string.h>

#include "vae-error.h"
#include "pth-private.h"

/* Dict nesting followed when naming tensors; a Lightning checkpoint has 2. */
#define MAX_DICT_DEPTH 32

/* What a file may make the reader hold.  torch's pickles open a MARK per
 * nesting level (Python's own recursion limit keeps that under about a
 * thousand) and keep their stack a few batches of 1000 items deep.  Every
 * object, container slot, memo entry and string is charged at about what
 * it costs here; torch.save's pickles take 16 to 27 bytes for each byte of
 * pickle (measured on the fixtures), a hostile one up to a few hundred,
 * so the charge is bounded by the pickle's size (itself bounded by
 * VAE_PICKLE_MAX_SIZE): at most 576 MiB. */
#define MAX_MARKS         4096
#define MAX_STACK         ((guint) 1 << 20)
#define BUDGET_PER_BYTE   32
#define BUDGET_BASE       ((guint64) 64 << 20)

typedef enum
{
  OBJ_NONE,
  OBJ_BOOL,
  OBJ_INT,
  OBJ_FLOAT,
  OBJ_STRING,
  OBJ_TUPLE,
  OBJ_LIST,
  OBJ_DICT,
  OBJ_GLOBAL,
  OBJ_STORAGE,
  OBJ_TENSOR,
  OBJ_BYTES,                            /* also integers over 8 bytes */
  OBJ_OPAQUE                            /* what an inert global made */
} ObjType;

typedef enum
{
  GLOBAL_ORDERED_DICT,
  GLOBAL_REBUILD_TENSOR,
  GLOBAL_REBUILD_PARAMETER,
  GLOBAL_STORAGE,
  GLOBAL_INERT
} GlobalKind;

/* The legacy format's first pickle: this number as a 10-byte LONG1. */
static const guint8 legacy_magic[] =
  { 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 };
#define LEGACY_PROTOCOL 1001

typedef struct _Obj Obj;

struct _Obj
{
  ObjType type;
  union
  {
    gint64   integer;                   /* OBJ_BOOL, OBJ_INT */
    gdouble  real;
    struct
    {
      gchar *text;                      /* NUL-terminated copy */
      gsize  length;
    } string;
    GPtrArray *items;                   /* OBJ_TUPLE, OBJ_LIST: Obj * */
    struct
    {
      GPtrArray  *keys;
      GPtrArray  *values;
      GHashTable *index;                /* string key -> position + 1 */
    } dict;
    struct
    {
      GlobalKind kind;
      VaeDtype   dtype;                 /* GLOBAL_STORAGE */
      guint      esize;
      gboolean   integer;
    } global;
    struct
    {
      VaeDtype  dtype;
      guint     esize;
      gboolean  integer;                /* not a weight: never named */
      gchar    *key;
      guint64   numel;
    } storage;
    struct
    {
      Obj     *storage;
      guint64  offset;
      Obj     *size;                    /* tuples of non-negative ints */
      Obj     *stride;
    } tensor;
  } v;
};

typedef struct
{
  const guint8  *data;
  gsize          size;
  gsize          pos;
  gsize          op_pos;        /* where the current opcode starts */
  const gchar   *display;
  GPtrArray     *objects;       /* owns every Obj */
  GPtrArray     *stack;
  GPtrArray     *popped;        /* what the last pop_mark() took */
  GArray        *marks;         /* stack lengths at each MARK */
  GHashTable    *memo;          /* index -> Obj * */
  GHashTable    *storages;      /* key -> OBJ_STORAGE, the first seen */
  guint64        cost;          /* bytes charged so far, see BUDGET_* */
  guint64        budget;
  gboolean       failed;        /* the error is set; later ones are not */
  GError       **error;
} Vm;

static const struct
{
  const gchar *module;
  const gchar *name;
  GlobalKind   kind;
  VaeDtype     dtype;
  guint        esize;
  gboolean     integer;
} allowed_globals[] =
{
  { "collections", "OrderedDict",         GLOBAL_ORDERED_DICT,      0, 0, 0 },
  { "torch._utils", "_rebuild_tensor_v2", GLOBAL_REBUILD_TENSOR,    0, 0, 0 },
  { "torch._utils", "_rebuild_parameter", GLOBAL_REBUILD_PARAMETER, 0, 0, 0 },
  { "torch._utils", "_rebuild_parameter_with_state",
                                          GLOBAL_REBUILD_PARAMETER, 0, 0, 0 },
  { "torch", "FloatStorage",    GLOBAL_STORAGE, VAE_DTYPE_F32,  4, FALSE },
  { "torch", "HalfStorage",     GLOBAL_STORAGE, VAE_DTYPE_F16,  2, FALSE },
  { "torch", "BFloat16Storage", GLOBAL_STORAGE, VAE_DTYPE_BF16, 2, FALSE },
  { "torch", "DoubleStorage",   GLOBAL_STORAGE, VAE_DTYPE_F64,  8, FALSE },
  /* Integer tensors (step counters, a text encoder's position_ids in a
   * full SD checkpoint) are data too, just never weights: read over,
   * never named. */
  { "torch", "LongStorage",     GLOBAL_STORAGE, 0, 8, TRUE },
  { "torch", "IntStorage",      GLOBAL_STORAGE, 0, 4, TRUE },
  { "torch", "ShortStorage",    GLOBAL_STORAGE, 0, 2, TRUE },
  { "torch", "CharStorage",     GLOBAL_STORAGE, 0, 1, TRUE },
  { "torch", "ByteStorage",     GLOBAL_STORAGE, 0, 1, TRUE },
  { "torch", "BoolStorage",     GLOBAL_STORAGE, 0, 1, TRUE },
  /* What training checkpoints keep beside the weights: Lightning's
   * callback state is keyed by its class (SD 1.x checkpoints), and steps
   * or metrics may be numpy scalars (pickled through numpy's dtype and,
   * in protocol 2, bytes through _codecs.encode).  Inert: naming them
   * makes an opaque placeholder, nothing is imported or called. */
  { "pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint",
                                          GLOBAL_INERT, 0, 0, 0 },
  { "lightning.pytorch.callbacks.model_checkpoint", "ModelCheckpoint",
                                          GLOBAL_INERT, 0, 0, 0 },
  { "numpy.core.multiarray", "scalar",    GLOBAL_INERT, 0, 0, 0 },
  { "numpy._core.multiarray", "scalar",   GLOBAL_INERT, 0, 0, 0 },
  { "numpy", "dtype",                     GLOBAL_INERT, 0, 0, 0 },
  { "_codecs", "encode",                  GLOBAL_INERT, 0, 0, 0 },
  { "builtins", "set",                    GLOBAL_INERT, 0, 0, 0 },
  { "__builtin__", "set",                 GLOBAL_INERT, 0, 0, 0 },
};

/* Names of opcodes this reader refuses, so that the message says which. */
static const struct
{
  guint8       op;
  const gchar *name;
} refused_names[] =
{
  { 'i', "INST" }, { 'o', "OBJ" }, { 0x81, "NEWOBJ" }, { 0x92, "NEWOBJ_EX" },
  { 0x82, "EXT1" }, { 0x83, "EXT2" }, { 0x84, "EXT4" }, { 'P', "PERSID" },
  { 'I', "INT" }, { 'L', "LONG" }, { 0x8b, "LONG4" }, { 'F', "FLOAT" },
  { 'S', "STRING" }, { 'T', "BINSTRING" }, { 'U', "SHORT_BINSTRING" },
  { 'V', "UNICODE" }, { 0x97, "NEXT_BUFFER" }, { 0x98, "READONLY_BUFFER" },
  { 'd', "DICT" }, { 'l', "LIST" }, { '0', "POP" }, { '1', "POP_MARK" },
  { '2', "DUP" }, { 'g', "GET" }, { 'p', "PUT" },
};

static void
obj_free (gpointer data)
{
  Obj *obj = data;

  switch (obj->type)
    {
    case OBJ_STRING:
    case OBJ_BYTES:
      g_free (obj->v.string.text);
      break;
    case OBJ_TUPLE:
    case OBJ_LIST:
      g_ptr_array_unref (obj->v.items);
      break;
    case OBJ_DICT:
      g_ptr_array_unref (obj->v.dict.keys);
      g_ptr_array_unref (obj->v.dict.values);
      g_hash_table_unref (obj->v.dict.index);
      break;
    case OBJ_STORAGE:
      g_free (obj->v.storage.key);
      break;
    default:
      break;
    }
  g_free (obj);
}

static const gchar *
obj_type_name (const Obj *obj)
{
  static const gchar *names[] =
    {
      "None", "bool", "int", "float", "str", "tuple", "list", "dict",
      "global", "storage", "tensor", "bytes", "object"
    };

  return names[obj->type];
}

static gboolean G_GNUC_PRINTF (3, 4)
fail (Vm          *vm,
      gint         code,
      const gchar *format,
      ...)
{
  g_autofree gchar *message = NULL;
  va_list           args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (! vm->failed)
    g_set_error (vm->error, VAE_ERROR, code, "%s: byte %" G_GSIZE_FORMAT
                 ": %s", vm->display, vm->op_pos, message);
  vm->failed = TRUE;

  return FALSE;
}

/* Counts @bytes against the budget.  Going over fails the pickle; the
 * caller may go on with its opcode (what it allocates is bounded), the
 * main loop stops after it. */
static void
charge (Vm    *vm,
        gsize  bytes)
{
  vm->cost += bytes;
  if (vm->cost > vm->budget)
    fail (vm, VAE_ERROR_NO_MEMORY, "the pickle would take more than %"
          G_GUINT64_FORMAT " MiB to read; refusing", vm->budget >> 20);
}

static Obj *
obj_new (Vm      *vm,
         ObjType  type)
{
  Obj *obj = g_new0 (Obj, 1);

  obj->type = type;
  g_ptr_array_add (vm->objects, obj);
  charge (vm, sizeof (Obj) + 24);

  return obj;
}

static Obj *
dict_new (Vm *vm)
{
  Obj *obj = obj_new (vm, OBJ_DICT);

  obj->v.dict.keys = g_ptr_array_new ();
  obj->v.dict.values = g_ptr_array_new ();
  obj->v.dict.index = g_hash_table_new (g_str_hash, g_str_equal);
  charge (vm, 256);

  return obj;
}

/* Python semantics: a repeated key keeps its place, takes the new value. */
static void
dict_set (Vm  *vm,
          Obj *dict,
          Obj *key,
          Obj *value)
{
  if (key->type == OBJ_STRING)
    {
      guint at = GPOINTER_TO_UINT (g_hash_table_lookup (dict->v.dict.index,
                                                        key->v.string.text));

      if (at)
        {
          g_ptr_array_index (dict->v.dict.values, at - 1) = value;
          return;
        }
      g_hash_table_insert (dict->v.dict.index, key->v.string.text,
                           GUINT_TO_POINTER (dict->v.dict.keys->len + 1));
      charge (vm, 32);
    }
  g_ptr_array_add (dict->v.dict.keys, key);
  g_ptr_array_add (dict->v.dict.values, value);
  charge (vm, 2 * sizeof (gpointer));
}

static const guint8 *
take (Vm    *vm,
      gsize  n)
{
  const guint8 *p;

  if (vm->size - vm->pos < n)
    {
      fail (vm, VAE_ERROR_FORMAT, "pickle ends in the middle of an opcode");
      return NULL;
    }
  p = vm->data + vm->pos;
  vm->pos += n;

  return p;
}

static gboolean
read_uint (Vm      *vm,
           guint    n_bytes,
           guint64 *value)
{
  const guint8 *p = take (vm, n_bytes);
  guint         i;

  if (! p)
    return FALSE;

  *value = 0;
  for (i = 0; i < n_bytes; i++)
    *value |= (guint64) p[i] << (8 * i);

  return TRUE;
}

static void
push (Vm  *vm,
      Obj *obj)
{
  /* BINGET pushes without making an object: the stack needs its own
   * bound. */
  if (vm->stack->len >= MAX_STACK)
    {
      fail (vm, VAE_ERROR_NO_MEMORY, "the pickle stack grows past %u "
            "entries", MAX_STACK);
      return;
    }
  g_ptr_array_add (vm->stack, obj);
}

static guint
fence (Vm *vm)
{
  return vm->marks->len ? g_array_index (vm->marks, guint,
                                         vm->marks->len - 1) : 0;
}

static Obj *
pop (Vm *vm)
{
  if (vm->stack->len <= fence (vm))
    {
      fail (vm, VAE_ERROR_FORMAT, "pickle stack underflow");
      return NULL;
    }

  return g_ptr_array_steal_index (vm->stack, vm->stack->len - 1);
}

static Obj *
peek (Vm *vm)
{
  if (vm->stack->len <= fence (vm))
    {
      fail (vm, VAE_ERROR_FORMAT, "pickle stack underflow");
      return NULL;
    }

  return g_ptr_array_index (vm->stack, vm->stack->len - 1);
}

/* Moves everything above the last MARK into vm->popped and drops the
 * mark. */
static gboolean
pop_mark (Vm *vm)
{
  guint start;
  guint i;

  if (vm->marks->len == 0)
    return fail (vm, VAE_ERROR_FORMAT, "pickle has no MARK to pop");

  start = g_array_index (vm->marks, guint, vm->marks->len - 1);
  g_array_set_size (vm->marks, vm->marks->len - 1);

  g_ptr_array_set_size (vm->popped, 0);
  for (i = start; i < vm->stack->len; i++)
    g_ptr_array_add (vm->popped, g_ptr_array_index (vm->stack, i));
  g_ptr_array_set_size (vm->stack, start);

  return TRUE;
}

static Obj *
tuple_new (Vm    *vm,
           Obj  **items,
           guint  n_items)
{
  Obj   *tuple = obj_new (vm, OBJ_TUPLE);
  guint  i;

  tuple->v.items = g_ptr_array_sized_new (n_items);
  for (i = 0; i < n_items; i++)
    g_ptr_array_add (tuple->v.items, items[i]);
  charge (vm, 32 + n_items * sizeof (gpointer));

  return tuple;
}

/* Python's str may hold U+0000, which g_utf8_validate() refuses: the
 * runs between them are checked.  (Such a string never names a tensor:
 * flatten() wants names without.) */
static gboolean
utf8_with_nuls (const gchar *text,
                gsize        length)
{
  const gchar *end = text + length;

  while (text < end)
    {
      const gchar *nul = memchr (text, '\0', end - text);
      const gchar *stop = nul ? nul : end;

      if (! g_utf8_validate_len (text, stop - text, NULL))
        return FALSE;
      text = nul ? nul + 1 : end;
    }

  return TRUE;
}

/* A str (UTF-8), or bytes, which are kept only to be ignored. */
static gboolean
push_text (Vm      *vm,
           guint64  length,
           ObjType  type)
{
  const guint8 *p = length <= vm->size - vm->pos ? take (vm, length) : NULL;
  Obj          *obj;

  if (! p)
    return fail (vm, VAE_ERROR_FORMAT, "pickle ends in the middle of an "
                 "opcode");
  if (type == OBJ_STRING && ! utf8_with_nuls ((const gchar *) p, length))
    return fail (vm, VAE_ERROR_FORMAT, "string is not valid UTF-8");

  obj = obj_new (vm, type);
  charge (vm, length + 16);
  if (vm->failed)
    return FALSE;
  obj->v.string.text = g_malloc (length + 1);
  memcpy (obj->v.string.text, p, length);
  obj->v.string.text[length] = '\0';
  obj->v.string.length = length;
  push (vm, obj);

  return TRUE;
}

static gboolean
push_int (Vm     *vm,
          gint64  value)
{
  Obj *obj = obj_new (vm, OBJ_INT);

  obj->v.integer = value;
  push (vm, obj);

  return TRUE;
}

static gboolean
resolve_global (Vm          *vm,
                const gchar *module,
                gsize        module_length,
                const gchar *name,
                gsize        name_length)
{
  g_autofree gchar *m = NULL;
  g_autofree gchar *n = NULL;
  guint             i;

  for (i = 0; i < G_N_ELEMENTS (allowed_globals); i++)
    if (strlen (allowed_globals[i].module) == module_length &&
        memcmp (allowed_globals[i].module, module, module_length) == 0 &&
        strlen (allowed_globals[i].name) == name_length &&
        memcmp (allowed_globals[i].name, name, name_length) == 0)
      {
        Obj *obj = obj_new (vm, OBJ_GLOBAL);

        obj->v.global.kind = allowed_globals[i].kind;
        obj->v.global.dtype = allowed_globals[i].dtype;
        obj->v.global.esize = allowed_globals[i].esize;
        obj->v.global.integer = allowed_globals[i].integer;
        push (vm, obj);
        return TRUE;
      }

  /* The names come from the file: escape them for the message. */
  m = g_strndup (module, MIN (module_length, 200));
  n = g_strndup (name, MIN (name_length, 200));
  {
    g_autofree gchar *em = g_strescape (m, NULL);
    g_autofree gchar *en = g_strescape (n, NULL);

    return fail (vm, VAE_ERROR_UNSUPPORTED,
                 "pickle global '%s %s' is not allowed: a checkpoint may "
                 "only hold tensors, dicts and plain values", em, en);
  }
}

static gboolean
op_global (Vm *vm)
{
  const guint8 *module = vm->data + vm->pos;
  const guint8 *end = vm->data + vm->size;
  const guint8 *newline1;
  const guint8 *newline2;

  newline1 = memchr (module, '\n', end - module);
  newline2 = newline1 ? memchr (newline1 + 1, '\n', end - newline1 - 1)
                      : NULL;
  if (! newline2)
    return fail (vm, VAE_ERROR_FORMAT, "GLOBAL without its two lines");
  vm->pos = newline2 + 1 - vm->data;

  return resolve_global (vm, (const gchar *) module, newline1 - module,
                         (const gchar *) newline1 + 1,
                         newline2 - newline1 - 1);
}

static gboolean
op_stack_global (Vm *vm)
{
  Obj *name = pop (vm);
  Obj *module = name ? pop (vm) : NULL;

  if (! module)
    return FALSE;
  if (name->type != OBJ_STRING || module->type != OBJ_STRING)
    return fail (vm, VAE_ERROR_FORMAT, "STACK_GLOBAL needs two strings");

  return resolve_global (vm, module->v.string.text, module->v.string.length,
                         name->v.string.text, name->v.string.length);
}

static gboolean
op_persistent_id (Vm *vm)
{
  Obj *pid = pop (vm);
  Obj *obj;
  Obj *const *f;

  if (! pid)
    return FALSE;

  /* ('storage', <storage type>, key, location, numel), and in the legacy
   * format a sixth item, the view of the storage that old versions
   * pickled (None since torch 1.x). */
  if (pid->type != OBJ_TUPLE ||
      (pid->v.items->len != 5 && pid->v.items->len != 6))
    return fail (vm, VAE_ERROR_FORMAT, "persistent id is not a storage "
                 "tuple of 5");
  f = (Obj *const *) pid->v.items->pdata;
  if (pid->v.items->len == 6 && f[5]->type != OBJ_NONE)
    return fail (vm, VAE_ERROR_UNSUPPORTED, "storage views of torch before "
                 "1.0 are not supported");
  if (f[0]->type != OBJ_STRING || strcmp (f[0]->v.string.text, "storage"))
    return fail (vm, VAE_ERROR_UNSUPPORTED, "persistent id is not a "
                 "'storage'");
  if (f[1]->type != OBJ_GLOBAL || f[1]->v.global.kind != GLOBAL_STORAGE)
    return fail (vm, VAE_ERROR_FORMAT, "persistent id has no storage type");
  if (f[2]->type != OBJ_STRING ||
      strlen (f[2]->v.string.text) != f[2]->v.string.length)
    return fail (vm, VAE_ERROR_FORMAT, "persistent id has no storage key");
  if (f[4]->type != OBJ_INT || f[4]->v.integer < 0)
    return fail (vm, VAE_ERROR_FORMAT, "persistent id has no storage size");

  obj = obj_new (vm, OBJ_STORAGE);
  obj->v.storage.dtype = f[1]->v.global.dtype;
  obj->v.storage.esize = f[1]->v.global.esize;
  obj->v.storage.integer = f[1]->v.global.integer;
  obj->v.storage.key = g_strdup (f[2]->v.string.text);
  obj->v.storage.numel = f[4]->v.integer;

  /* The legacy format lays storages out by key: one key, one size. */
  {
    Obj *first = g_hash_table_lookup (vm->storages, obj->v.storage.key);

    if (! first)
      {
        g_hash_table_insert (vm->storages, obj->v.storage.key, obj);
        charge (vm, 32);
      }
    else if (first->v.storage.esize != obj->v.storage.esize)
      {
        g_autofree gchar *key = g_strescape (obj->v.storage.key, NULL);

        return fail (vm, VAE_ERROR_FORMAT, "storage '%s' has two element "
                     "sizes", key);
      }
  }
  push (vm, obj);

  return TRUE;
}

static gboolean
is_int_tuple (const Obj *obj)
{
  guint i;

  if (obj->type != OBJ_TUPLE)
    return FALSE;

  for (i = 0; i < obj->v.items->len; i++)
    {
      const Obj *item = g_ptr_array_index (obj->v.items, i);

      if (item->type != OBJ_INT || item->v.integer < 0)
        return FALSE;
    }

  return TRUE;
}

/* _rebuild_tensor_v2 (storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) as data.  The view is checked against its
 * storage once the tensor has a name (describe_view). */
static Obj *
rebuild_tensor (Vm  *vm,
                Obj *args)
{
  Obj *const *a = (Obj *const *) args->v.items->pdata;
  Obj        *tensor;

  if (args->v.items->len != 6 && args->v.items->len != 7)
    {
      fail (vm, VAE_ERROR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 "
            "arguments, not %u", args->v.items->len);
      return NULL;
    }
  if (a[0]->type != OBJ_STORAGE || a[1]->type != OBJ_INT ||
      a[1]->v.integer < 0 || ! is_int_tuple (a[2]) || ! is_int_tuple (a[3]) ||
      a[2]->v.items->len != a[3]->v.items->len)
    {
      fail (vm, VAE_ERROR_FORMAT, "_rebuild_tensor_v2 needs a storage, an "
            "offset and size and stride tuples of non-negative integers");
      return NULL;
    }

  tensor = obj_new (vm, OBJ_TENSOR);
  tensor->v.tensor.storage = a[0];
  tensor->v.tensor.offset = a[1]->v.integer;
  tensor->v.tensor.size = a[2];
  tensor->v.tensor.stride = a[3];

  return tensor;
}

static gboolean
op_reduce (Vm *vm)
{
  Obj *args = pop (vm);
  Obj *callable = args ? pop (vm) : NULL;
  Obj *result = NULL;

  if (! callable)
    return FALSE;
  if (callable->type != OBJ_GLOBAL)
    return fail (vm, VAE_ERROR_UNSUPPORTED, "REDUCE on a %s",
                 obj_type_name (callable));
  if (args->type != OBJ_TUPLE)
    return fail (vm, VAE_ERROR_FORMAT, "REDUCE arguments are a %s, not a "
                 "tuple", obj_type_name (args));

  switch (callable->v.global.kind)
    {
    case GLOBAL_ORDERED_DICT:
      if (args->v.items->len != 0)
        return fail (vm, VAE_ERROR_UNSUPPORTED, "OrderedDict with "
                     "arguments");
      result = dict_new (vm);
      break;

    case GLOBAL_REBUILD_TENSOR:
      result = rebuild_tensor (vm, args);
      if (! result)
        return FALSE;
      break;

    case GLOBAL_REBUILD_PARAMETER:
      if (args->v.items->len < 1 ||
          ((Obj *) g_ptr_array_index (args->v.items, 0))->type != OBJ_TENSOR)
        return fail (vm, VAE_ERROR_FORMAT, "_rebuild_parameter without a "
                     "tensor");
      result = g_ptr_array_index (args->v.items, 0);
      break;

    case GLOBAL_STORAGE:
      return fail (vm, VAE_ERROR_UNSUPPORTED, "REDUCE on a storage type");

    case GLOBAL_INERT:
      result = obj_new (vm, OBJ_OPAQUE);
      break;
    }

  push (vm, result);

  return TRUE;
}

static gboolean
op_setitems (Vm       *vm,
             gboolean  one)
{
  Obj   *pair[2];
  Obj  **items;
  Obj   *dict;
  guint  n_items;
  guint  i;

  if (one)
    {
      pair[1] = pop (vm);
      pair[0] = pair[1] ? pop (vm) : NULL;
      if (! pair[0])
        return FALSE;
      items = pair;
      n_items = 2;
    }
  else if (pop_mark (vm))
    {
      items = (Obj **) vm->popped->pdata;
      n_items = vm->popped->len;
    }
  else
    {
      return FALSE;
    }

  dict = peek (vm);
  if (! dict)
    return FALSE;
  if (dict->type != OBJ_DICT)
    return fail (vm, VAE_ERROR_FORMAT, "SETITEM on a %s",
                 obj_type_name (dict));
  if (n_items % 2)
    return fail (vm, VAE_ERROR_FORMAT, "SETITEMS with an odd number of "
                 "items");

  for (i = 0; i < n_items; i += 2)
    dict_set (vm, dict, items[i], items[i + 1]);

  return TRUE;
}

static gboolean
op_appends (Vm       *vm,
            gboolean  one)
{
  Obj   *single;
  Obj  **items;
  Obj   *list;
  guint  n_items;
  guint  i;

  if (one)
    {
      single = pop (vm);
      if (! single)
        return FALSE;
      items = &single;
      n_items = 1;
    }
  else if (pop_mark (vm))
    {
      items = (Obj **) vm->popped->pdata;
      n_items = vm->popped->len;
    }
  else
    {
      return FALSE;
    }

  list = peek (vm);
  if (! list)
    return FALSE;
  if (list->type != OBJ_LIST)
    return fail (vm, VAE_ERROR_FORMAT, "APPEND on a %s",
                 obj_type_name (list));

  for (i = 0; i < n_items; i++)
    g_ptr_array_add (list->v.items, items[i]);
  charge (vm, n_items * sizeof (gpointer));

  return TRUE;
}

static gboolean
op_tuple (Vm   *vm,
          gint  n)
{
  Obj   *items[3];
  gint   i;

  if (n < 0)
    {
      if (! pop_mark (vm))
        return FALSE;
      push (vm, tuple_new (vm, (Obj **) vm->popped->pdata,
                           vm->popped->len));
      return TRUE;
    }

  for (i = n - 1; i >= 0; i--)
    if (! (items[i] = pop (vm)))
      return FALSE;
  push (vm, tuple_new (vm, items, n));

  return TRUE;
}

static gboolean
memo_put (Vm      *vm,
          guint64  index)
{
  Obj *top = peek (vm);

  if (! top)
    return FALSE;

  if (g_hash_table_insert (vm->memo, GUINT_TO_POINTER ((guint) index), top))
    charge (vm, 32);

  return TRUE;
}

static gboolean
memo_get (Vm      *vm,
          guint64  index)
{
  Obj *obj = g_hash_table_lookup (vm->memo, GUINT_TO_POINTER ((guint) index));

  if (! obj)
    return fail (vm, VAE_ERROR_FORMAT, "memo entry %" G_GUINT64_FORMAT
                 " is not set", index);
  push (vm, obj);

  return TRUE;
}

static gboolean
step (Vm       *vm,
      Obj     **result)
{
  guint64  n;
  guint8   op;
  Obj     *obj;

  vm->op_pos = vm->pos;
  if (vm->pos >= vm->size)
    return fail (vm, VAE_ERROR_FORMAT, "pickle ends without STOP");
  op = vm->data[vm->pos++];

  switch (op)
    {
    case 0x80:                  /* PROTO */
      if (! read_uint (vm, 1, &n))
        return FALSE;
      if (n > 5)
        return fail (vm, VAE_ERROR_UNSUPPORTED, "pickle protocol %u",
                     (guint) n);
      return TRUE;

    case 0x95:                  /* FRAME: only a read-ahead hint */
      return read_uint (vm, 8, &n);

    case '.':                   /* STOP */
      if (! (*result = pop (vm)))
        return FALSE;
      return TRUE;

    case 'N':                   /* NONE */
      push (vm, obj_new (vm, OBJ_NONE));
      return TRUE;

    case 0x88:                  /* NEWTRUE */
    case 0x89:                  /* NEWFALSE */
      obj = obj_new (vm, OBJ_BOOL);
      obj->v.integer = op == 0x88;
      push (vm, obj);
      return TRUE;

    case 'K':                   /* BININT1 */
      return read_uint (vm, 1, &n) && push_int (vm, n);
    case 'M':                   /* BININT2 */
      return read_uint (vm, 2, &n) && push_int (vm, n);
    case 'J':                   /* BININT: signed */
      return read_uint (vm, 4, &n) && push_int (vm, (gint32) (guint32) n);

    case 0x8a:                  /* LONG1: little-endian two's complement */
      if (! read_uint (vm, 1, &n))
        return FALSE;
      /* Wider integers are only compared (the legacy magic number): kept
       * as their bytes. */
      if (n > 8)
        return push_text (vm, n, OBJ_BYTES);
      {
        guint   length = n;
        guint64 bits;

        if (length == 0)
          return push_int (vm, 0);
        if (! read_uint (vm, length, &bits))
          return FALSE;
        if (length < 8 && (bits >> (8 * length - 1)) & 1)
          bits |= G_MAXUINT64 << (8 * length);
        return push_int (vm, (gint64) bits);
      }

    case 'G':                   /* BINFLOAT: big-endian double */
      {
        const guint8 *p = take (vm, 8);
        guint64       bits = 0;
        guint         i;

        if (! p)
          return FALSE;
        for (i = 0; i < 8; i++)
          bits = (bits << 8) | p[i];
        obj = obj_new (vm, OBJ_FLOAT);
        memcpy (&obj->v.real, &bits, 8);
        push (vm, obj);
        return TRUE;
      }

    case 'X':                   /* BINUNICODE */
      return read_uint (vm, 4, &n) && push_text (vm, n, OBJ_STRING);
    case 0x8c:                  /* SHORT_BINUNICODE */
      return read_uint (vm, 1, &n) && push_text (vm, n, OBJ_STRING);
    case 0x8d:                  /* BINUNICODE8 */
      return read_uint (vm, 8, &n) && push_text (vm, n, OBJ_STRING);
    case 'C':                   /* SHORT_BINBYTES */
      return read_uint (vm, 1, &n) && push_text (vm, n, OBJ_BYTES);
    case 'B':                   /* BINBYTES */
      return read_uint (vm, 4, &n) && push_text (vm, n, OBJ_BYTES);
    case 0x8e:                  /* BINBYTES8 */
    case 0x96:                  /* BYTEARRAY8 */
      return read_uint (vm, 8, &n) && push_text (vm, n, OBJ_BYTES);

    case '(':                   /* MARK */
      if (vm->marks->len >= MAX_MARKS)
        return fail (vm, VAE_ERROR_FORMAT, "MARKs nest deeper than %d",
                     MAX_MARKS);
      g_array_append_val (vm->marks, vm->stack->len);
      return TRUE;

    case ')':                   /* EMPTY_TUPLE */
      return op_tuple (vm, 0);
    case 0x85:                  /* TUPLE1 */
      return op_tuple (vm, 1);
    case 0x86:                  /* TUPLE2 */
      return op_tuple (vm, 2);
    case 0x87:                  /* TUPLE3 */
      return op_tuple (vm, 3);
    case 't':                   /* TUPLE */
      return op_tuple (vm, -1);

    case ']':                   /* EMPTY_LIST */
    case 0x8f:                  /* EMPTY_SET: a list will do */
      obj = obj_new (vm, OBJ_LIST);
      obj->v.items = g_ptr_array_new ();
      push (vm, obj);
      return TRUE;
    case 'a':                   /* APPEND */
      return op_appends (vm, TRUE);
    case 'e':                   /* APPENDS */
    case 0x90:                  /* ADDITEMS */
      return op_appends (vm, FALSE);
    case 0x91:                  /* FROZENSET: a tuple will do */
      return op_tuple (vm, -1);

    case '}':                   /* EMPTY_DICT */
      push (vm, dict_new (vm));
      return TRUE;
    case 's':                   /* SETITEM */
      return op_setitems (vm, TRUE);
    case 'u':                   /* SETITEMS */
      return op_setitems (vm, FALSE);

    case 'q':                   /* BINPUT */
      return read_uint (vm, 1, &n) && memo_put (vm, n);
    case 'r':                   /* LONG_BINPUT */
      return read_uint (vm, 4, &n) && memo_put (vm, n);
    case 0x94:                  /* MEMOIZE */
      return memo_put (vm, g_hash_table_size (vm->memo));
    case 'h':                   /* BINGET */
      return read_uint (vm, 1, &n) && memo_get (vm, n);
    case 'j':                   /* LONG_BINGET */
      return read_uint (vm, 4, &n) && memo_get (vm, n);

    case 'c':                   /* GLOBAL */
      return op_global (vm);
    case 0x93:                  /* STACK_GLOBAL */
      return op_stack_global (vm);

    case 'Q':                   /* BINPERSID */
      return op_persistent_id (vm);

    case 'R':                   /* REDUCE */
      return op_reduce (vm);

    case 'b':                   /* BUILD: the state of a state dict is its
                                 * _metadata (module versions): unused */
      {
        Obj *state = pop (vm);
        Obj *target = state ? peek (vm) : NULL;

        if (! target)
          return FALSE;
        if (target->type != OBJ_DICT && target->type != OBJ_OPAQUE)
          return fail (vm, VAE_ERROR_UNSUPPORTED, "BUILD on a %s",
                       obj_type_name (target));
        return TRUE;
      }

    default:
      {
        const gchar *name = NULL;
        guint        i;

        for (i = 0; i < G_N_ELEMENTS (refused_names); i++)
          if (refused_names[i].op == op)
            name = refused_names[i].name;

        if (name)
          return fail (vm, VAE_ERROR_UNSUPPORTED, "pickle opcode %s (0x%02x) "
                       "is not allowed in a checkpoint", name, op);
        return fail (vm, VAE_ERROR_UNSUPPORTED, "unknown pickle opcode "
                     "0x%02x", op);
      }
    }
}

static void
pickle_tensor_free (gpointer data)
{
  VaePickleTensor *tensor = data;

  g_free (tensor->name);
  g_free (tensor->storage_key);
  g_free (tensor);
}

static gchar *
format_ints (const Obj *tuple)
{
  GString *str = g_string_new ("[");
  guint    i;

  for (i = 0; i < tuple->v.items->len; i++)
    g_string_append_printf (str, "%s%" G_GINT64_FORMAT, i ? ", " : "",
                            ((const Obj *)
                             g_ptr_array_index (tuple->v.items, i))->v.integer);
  g_string_append_c (str, ']');

  return g_string_free (str, FALSE);
}

/* Fills @t from a tensor object if its view stays inside its storage. */
static gboolean
describe_view (Vm              *vm,
               const Obj       *tensor,
               VaePickleTensor *t)
{
  const Obj *storage = tensor->v.tensor.storage;
  const Obj *size = tensor->v.tensor.size;
  const Obj *stride = tensor->v.tensor.stride;
  guint64    n_elements = 1;
  guint64    last = tensor->v.tensor.offset;
  guint      n_dims = size->v.items->len;
  guint      d;

  if (n_dims > VAE_WEIGHT_MAX_DIMS)
    {
      g_set_error (vm->error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "%s: tensor '%s' has %u dimensions; at most %d are "
                   "supported", vm->display, t->name, n_dims,
                   VAE_WEIGHT_MAX_DIMS);
      return FALSE;
    }

  for (d = 0; d < n_dims; d++)
    {
      t->shape[d] = ((const Obj *)
                     g_ptr_array_index (size->v.items, d))->v.integer;
      t->stride[d] = ((const Obj *)
                      g_ptr_array_index (stride->v.items, d))->v.integer;
      if ((guint64) t->shape[d] > G_MAXSIZE ||
          (t->shape[d] != 0 && n_elements > G_MAXUINT64 / t->shape[d]))
        {
          g_autofree gchar *shape = format_ints (size);

          g_set_error (vm->error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: tensor '%s': size %s overflows",
                       vm->display, t->name, shape);
          return FALSE;
        }
      n_elements *= t->shape[d];
    }

  /* The last element the view touches: offset + sum (size - 1) * stride,
   * saturating instead of wrapping. */
  if (n_elements > 0)
    for (d = 0; d < n_dims; d++)
      {
        guint64 span;

        if (t->stride[d] != 0 &&
            t->shape[d] - 1 > G_MAXUINT64 / t->stride[d])
          {
            last = G_MAXUINT64;
            break;
          }
        span = (t->shape[d] - 1) * t->stride[d];
        last = last > G_MAXUINT64 - span ? G_MAXUINT64 : last + span;
      }

  if (n_elements > 0 ? last >= storage->v.storage.numel
                     : last > storage->v.storage.numel)
    {
      g_autofree gchar *shape = format_ints (size);
      g_autofree gchar *strides = format_ints (stride);

      g_set_error (vm->error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: tensor '%s': view (offset %" G_GUINT64_FORMAT
                   ", size %s, stride %s) reaches past the end of its "
                   "storage '%s' of %" G_GUINT64_FORMAT " elements",
                   vm->display, t->name, tensor->v.tensor.offset, shape,
                   strides, storage->v.storage.key,
                   storage->v.storage.numel);
      return FALSE;
    }

  t->dtype = storage->v.storage.dtype;
  t->storage_key = g_strdup (storage->v.storage.key);
  t->storage_numel = storage->v.storage.numel;
  t->offset = tensor->v.tensor.offset;
  t->n_dims = n_dims;
  t->n_elements = n_elements;

  return TRUE;
}

static gboolean
flatten (Vm          *vm,
         const Obj   *dict,
         const gchar *prefix,
         guint        depth,
         GHashTable  *visited,
         GPtrArray   *tensors)
{
  guint i;

  /* A dict reached twice (the memo allows it, even a dict inside itself)
   * is named once. */
  if (! g_hash_table_add (visited, (gpointer) dict))
    return TRUE;
  if (depth > MAX_DICT_DEPTH)
    {
      g_set_error (vm->error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: dicts nest deeper than %d levels", vm->display,
                   MAX_DICT_DEPTH);
      return FALSE;
    }

  for (i = 0; i < dict->v.dict.keys->len; i++)
    {
      const Obj        *key = g_ptr_array_index (dict->v.dict.keys, i);
      const Obj        *value = g_ptr_array_index (dict->v.dict.values, i);
      g_autofree gchar *name = NULL;

      if (value->type != OBJ_TENSOR && value->type != OBJ_DICT)
        continue;
      if (value->type == OBJ_TENSOR &&
          value->v.tensor.storage->v.storage.integer)
        continue;

      if (key->type == OBJ_STRING &&
          strlen (key->v.string.text) == key->v.string.length)
        name = prefix ? g_strconcat (prefix, ".", key->v.string.text, NULL)
                      : g_strdup (key->v.string.text);
      else if (key->type == OBJ_INT)
        name = prefix ? g_strdup_printf ("%s.%" G_GINT64_FORMAT, prefix,
                                         key->v.integer)
                      : g_strdup_printf ("%" G_GINT64_FORMAT,
                                         key->v.integer);
      else
        continue;

      if (value->type == OBJ_DICT)
        {
          if (! flatten (vm, value, name, depth + 1, visited, tensors))
            return FALSE;
        }
      else
        {
          VaePickleTensor *t = g_new0 (VaePickleTensor, 1);

          t->name = g_steal_pointer (&name);
          g_ptr_array_add (tensors, t);
          if (! describe_view (vm, value, t))
            return FALSE;
        }
    }

  return TRUE;
}

static void
vm_init (Vm           *vm,
         const guint8 *data,
         gsize         size,
         const gchar  *display,
         GError      **error)
{
  memset (vm, 0, sizeof *vm);
  vm->data = data;
  vm->size = size;
  vm->display = display;
  vm->error = error;
  vm->objects = g_ptr_array_new_with_free_func (obj_free);
  vm->stack = g_ptr_array_new ();
  vm->popped = g_ptr_array_new ();
  vm->marks = g_array_new (FALSE, FALSE, sizeof (guint));
  vm->memo = g_hash_table_new (NULL, NULL);
  vm->storages = g_hash_table_new (g_str_hash, g_str_equal);
  vm->budget = BUDGET_BASE + (guint64) size * BUDGET_PER_BYTE;
}

static void
vm_clear (Vm *vm)
{
  g_hash_table_unref (vm->storages);
  g_hash_table_unref (vm->memo);
  g_array_unref (vm->marks);
  g_ptr_array_unref (vm->stack);
  g_ptr_array_unref (vm->popped);
  g_ptr_array_unref (vm->objects);
}

/* One pickle, from vm->pos to its STOP, with a stack and memo of its own;
 * the objects stay until vm_clear(). */
static gboolean
run_pickle (Vm   *vm,
            Obj **result)
{
  gboolean ok = ! vm->failed;

  *result = NULL;
  g_ptr_array_set_size (vm->stack, 0);
  g_array_set_size (vm->marks, 0);
  g_hash_table_remove_all (vm->memo);

  /* step() may charge past the budget and still succeed: fail counts. */
  while (ok && ! *result)
    ok = step (vm, result) && ! vm->failed;

  return ok;
}

static gboolean
flatten_root (Vm         *vm,
              const Obj  *root,
              GPtrArray  *tensors)
{
  g_autoptr(GHashTable) visited = g_hash_table_new (NULL, NULL);

  if (root->type != OBJ_DICT)
    return fail (vm, VAE_ERROR_FORMAT, "the checkpoint holds a %s, not a "
                 "dict of tensors", obj_type_name (root));

  return flatten (vm, root, NULL, 0, visited, tensors);
}

GPtrArray *
vae_pickle_load_tensors (const guint8  *data,
                         gsize          size,
                         const gchar   *display,
                         GError       **error)
{
  g_autoptr(GPtrArray)  tensors = NULL;
  Obj                  *result = NULL;
  Vm                    vm;
  gboolean              ok = TRUE;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  vm_init (&vm, data, size, display, error);
  tensors = g_ptr_array_new_with_free_func (pickle_tensor_free);

  if (size > VAE_PICKLE_MAX_SIZE)
    ok = fail (&vm, VAE_ERROR_NO_MEMORY, "a pickle of %" G_GSIZE_FORMAT
               " bytes is over the %" G_GSIZE_FORMAT " MiB limit", size,
               VAE_PICKLE_MAX_SIZE >> 20);

  ok = ok && run_pickle (&vm, &result) && flatten_root (&vm, result, tensors);
  vm_clear (&vm);

  return ok ? g_steal_pointer (&tensors) : NULL;
}

static void
pickle_storage_free (gpointer data)
{
  VaePickleStorage *storage = data;

  g_free (storage->key);
  g_free (storage);
}

/* The value of a str key of a pickled dict, or NULL. */
static const Obj *
dict_lookup (const Obj   *dict,
             const gchar *key)
{
  guint at = GPOINTER_TO_UINT (g_hash_table_lookup (dict->v.dict.index, key));

  return at ? g_ptr_array_index (dict->v.dict.values, at - 1) : NULL;
}

GPtrArray *
vae_pickle_load_legacy (const guint8  *data,
                        gsize          size,
                        const gchar   *display,
                        GPtrArray    **storages,
                        gsize         *data_start,
                        GError       **error)
{
  g_autoptr(GPtrArray)  tensors = NULL;
  g_autoptr(GPtrArray)  layout = NULL;
  Obj                  *magic = NULL;
  Obj                  *protocol = NULL;
  Obj                  *info = NULL;
  Obj                  *root = NULL;
  Obj                  *keys = NULL;
  const Obj            *little;
  Vm                    vm;
  gboolean              ok;
  guint                 i;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (storages != NULL && data_start != NULL, NULL);

  /* The pickles come first; the storages after them may be gigabytes, so
   * only the first VAE_PICKLE_MAX_SIZE bytes are pickle material. */
  vm_init (&vm, data, MIN (size, VAE_PICKLE_MAX_SIZE), display, error);
  tensors = g_ptr_array_new_with_free_func (pickle_tensor_free);
  layout = g_ptr_array_new_with_free_func (pickle_storage_free);

  ok = run_pickle (&vm, &magic);
  if (ok && (magic->type != OBJ_BYTES ||
             magic->v.string.length != sizeof legacy_magic ||
             memcmp (magic->v.string.text, legacy_magic,
                     sizeof legacy_magic) != 0))
    ok = fail (&vm, VAE_ERROR_FORMAT, "no legacy PyTorch magic number");

  ok = ok && run_pickle (&vm, &protocol);
  if (ok && (protocol->type != OBJ_INT ||
             protocol->v.integer != LEGACY_PROTOCOL))
    ok = fail (&vm, VAE_ERROR_UNSUPPORTED, "legacy format version is not "
               "%d", LEGACY_PROTOCOL);

  ok = ok && run_pickle (&vm, &info);
  if (ok && (info->type != OBJ_DICT ||
             ! (little = dict_lookup (info, "little_endian")) ||
             little->type != OBJ_BOOL))
    ok = fail (&vm, VAE_ERROR_FORMAT, "no system information with "
               "little_endian");
  else if (ok && ! little->v.integer)
    ok = fail (&vm, VAE_ERROR_UNSUPPORTED, "only little-endian checkpoints "
               "are supported");

  ok = ok && run_pickle (&vm, &root) && flatten_root (&vm, root, tensors);

  ok = ok && run_pickle (&vm, &keys);
  if (ok && keys->type != OBJ_LIST)
    ok = fail (&vm, VAE_ERROR_FORMAT, "the storage keys are a %s, not a "
               "list", obj_type_name (keys));

  /* The storages follow in the order of this list, each as its element
   * count and its bytes: the element sizes come from the pickle. */
  for (i = 0; ok && i < keys->v.items->len; i++)
    {
      const Obj        *key = g_ptr_array_index (keys->v.items, i);
      const Obj        *storage;
      VaePickleStorage *entry;

      if (key->type != OBJ_STRING)
        {
          ok = fail (&vm, VAE_ERROR_FORMAT, "storage key %u is a %s", i,
                     obj_type_name (key));
          break;
        }
      storage = g_hash_table_lookup (vm.storages, key->v.string.text);
      if (! storage)
        {
          g_autofree gchar *name = g_strescape (key->v.string.text, NULL);

          ok = fail (&vm, VAE_ERROR_FORMAT, "storage '%s' is listed but "
                     "never described", name);
          break;
        }
      entry = g_new0 (VaePickleStorage, 1);
      entry->key = g_strdup (key->v.string.text);
      entry->esize = storage->v.storage.esize;
      entry->numel = storage->v.storage.numel;
      g_ptr_array_add (layout, entry);
      charge (&vm, 64);
      ok = ! vm.failed;
    }

  *data_start = vm.pos;
  vm_clear (&vm);
  if (! ok)
    return NULL;

  *storages = g_steal_pointer (&layout);

  return g_steal_pointer (&tensors);
}
