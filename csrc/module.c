/* module.c - the only binding file: dlc's C kernels as the extension module dlc._C.
 * Each function is described once, by a KERNEL record: name, shape family, doc line, the dlc_*
 * call, the parameters in signature order (arrays: dtype, role, shape in slots of the family's
 * shape struct or "like" another array; scalars: type, default, range). run() serves them all:
 * bind and convert the arguments, validate the arrays (never copied), fill the shape from the
 * F_DEF arrays and the family's finish() (which checks it with the kernel's own check: a
 * dlc_fault names the failed condition), check every exact shape and that no output overlaps
 * another array, allocate the workspace, release the GIL around the call only, map the status.
 * Docstrings are made from the records at import. See ARCHITECTURE.md.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc.h"
#include "internal.h" /* dlc_sgemm_serial*: the single-threaded GEMMs conv2d uses (tests) */

/* ================================================================ descriptions */

enum { K_F32, K_I32, K_U8, K_I64, /* arrays of that dtype */
       K_FLT, K_FLTN,             /* float32 scalar; float32 or None (None: +inf) */
       K_BOOL, K_INT, K_U64,      /* truth value, int64, uint64 */
       K_INTS };                  /* tuple (F_SEQ: sequence) of `count` ints */
enum {
    F_OUT = 1,     /* array the kernel writes: writeable, sharing memory with no other array */
    F_OPT = 2,     /* array that may be None (NULL to the kernel) */
    F_DEF = 4,     /* array whose dims define the shape slots it names; rank-checked first */
    F_INPLACE = 8, /* output that may be exactly the first array (in-place activations) */
    F_KW = 16,     /* keyword-only */
    F_REQ = 32,    /* keyword-only without a default */
    F_SEQ = 64,    /* K_INTS: any sequence, not only a tuple */
    F_ANY = 128,   /* K_FLT: no range at all (NaN and inf pass) */
    F_OPEN = 256,  /* K_FLT: the range excludes hi */
};
#define MAXP 13  /* parameters of a kernel + the terminator */
#define NSLOT 24 /* int64 slots of a shape */

typedef struct {
    const char *name;
    int kind, flags;
    const char *shape; /* array: slot names "n, oh, ow, oc", "like x", or NULL (free);
                          scalar: the slots its value fills, or NULL */
    double def, lo, hi; /* scalar default (K_INTS: of every element) and range [lo, hi] */
    int count;          /* K_INTS: how many ints */
    const char *when;   /* F_OPT array: not None when this scalar is nonzero */
    PyObject *key;              /* from here on filled by prepare(): the interned name */
    int nd, like, need, dim[4]; /* the shape's slots; the index of `like` and of `when` */
    unsigned defmask;           /* F_DEF: the dims that define their slot */
    char layout[64];            /* "(n, oh, ow, oc)" or "the shape of 'x'" */
} param;

typedef union {
    int64_t d[NSLOT];
    dlc_conv2d_shape conv;                               /* and d[CONV_CG] = c / groups */
    dlc_pool2d_shape pool;
    struct { int64_t n, h, w, c, hw; } gp;               /* global pooling */
    struct { int64_t m, k; } mk;                         /* rows: softmax, losses, batchnorm */
    struct { int64_t m, n, k, lda, ldb, ldc, kseg; } mm; /* gemm, gemm_rows */
} shape;
#define CONV_CG 18
_Static_assert(sizeof(dlc_conv2d_shape) == CONV_CG * sizeof(int64_t), "conv slots");
_Static_assert(sizeof(dlc_pool2d_shape) == 14 * sizeof(int64_t), "pool slots");

typedef union { float f; int64_t i; uint64_t u; int b; uint32_t w[4]; } value;

typedef struct kernel kernel;
typedef struct {
    const kernel *k;
    shape s;
    PyObject *o[MAXP];        /* the arguments, NULL where not given */
    PyArrayObject *arr[MAXP]; /* the validated arrays, NULL for None and scalars */
    void *a[MAXP];            /* their data */
    value v[MAXP];            /* the scalars */
    void *ws;
    size_t wsz;
    uint32_t out[4]; /* philox4x32_10's block */
} call;

typedef struct {
    const char *slots;      /* slot names in slot order; '=' marks one that finish() derives */
    int (*finish)(call *c); /* derive and check the slots: 0, or -1 with an exception set */
    int aux;                /* which variant of finish() */
} family;

struct kernel {
    const char *name, *doc;
    const family *fam;
    dlc_status (*run)(call *c);   /* the dlc_* call (runs without the GIL) */
    size_t (*ws)(const call *c);  /* workspace bytes, NULL for none */
    const char *einval, *eslot;   /* message for a DLC_EINVAL the checks cannot foresee (a bad
                                     label or argmax), with %lld = slot eslot */
    PyObject *(*result)(call *c); /* the return value, NULL for None */
    param p[MAXP];
    int np, na, npos, eidx; /* filled at import: parameters, arrays (they come first), ... */
    char *docstr;
};

/* ================================================================ errors */

#define LL(x) ((long long)(x))
#define UNUSED __attribute__((unused))

/* Sets "<kernel>: <message>" as a `type` exception; returns -1. */
static int err(PyObject *type, const call *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (msg) PyErr_Format(type, "%s: %U", c->k->name, msg);
    Py_XDECREF(msg);
    return -1;
}

/* "(2, 3)" or "(5,)" into buf (128 bytes): d, or the shape of a when d is NULL. */
static const char *dims_str(char *buf, int nd, const int64_t *d, PyArrayObject *a) {
    size_t u = (size_t)snprintf(buf, 128, "(");
    nd = d ? nd : PyArray_NDIM(a);
    for (int i = 0; i < nd && u < 128; i++)
        u += (size_t)snprintf(buf + u, 128 - u, i ? ", %lld" : "%lld",
                              LL(d ? d[i] : PyArray_DIM(a, i)));
    if (u < 128) snprintf(buf + u, 128 - u, nd == 1 ? ",)" : ")");
    return buf;
}
#define arr_str(buf, a) dims_str(buf, 0, NULL, a)

/* ValueError "argument 'x' (layout) <what>, received shape (...)". */
static int fail_shape(call *c, int i, const char *what) {
    const param *p = &c->k->p[i];
    char got[128];
    return err(PyExc_ValueError, c, "argument '%s'%s%s %s, received shape %s", p->name,
               p->layout[0] ? " " : "", p->layout, what, arr_str(got, c->arr[i]));
}

/* 0 if array i has nd dimensions, else -1 with ValueError. */
static int need_nd(call *c, int i, int nd) {
    char what[32];
    if (PyArray_NDIM(c->arr[i]) == nd) return 0;
    snprintf(what, sizeof what, "must be %d-D", nd);
    return fail_shape(c, i, what);
}

static int bad_shape(call *c, int i, int nd, const int64_t *want, const char *layout) {
    char w[128], g[128];
    return err(PyExc_ValueError, c, "argument '%s' must have shape %s = %s, received %s",
               c->k->p[i].name, dims_str(w, nd, want, NULL), layout, arr_str(g, c->arr[i]));
}

/* ================================================================ the generic path */

static int bind(call *c, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    const kernel *k = c->k;
    if (nargs > k->npos)
        return err(PyExc_TypeError, c, "takes at most %d positional arguments (%zd given)",
                   k->npos, nargs);
    for (Py_ssize_t i = 0; i < nargs; i++) c->o[i] = args[i];
    for (Py_ssize_t j = 0; kwnames && j < PyTuple_GET_SIZE(kwnames); j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);
        int i = 0;
        while (i < k->np && k->p[i].key != key) i++; /* interned: pointers usually match */
        if (i == k->np)
            for (i = 0; i < k->np && PyUnicode_Compare(k->p[i].key, key) != 0; i++) {}
        if (PyErr_Occurred()) return -1;
        if (i == k->np) return err(PyExc_TypeError, c, "'%U' is an invalid keyword argument", key);
        if (c->o[i]) return err(PyExc_TypeError, c, "argument '%U' given twice", key);
        c->o[i] = args[nargs + j];
    }
    for (int i = 0; i < k->npos; i++)
        if (!c->o[i])
            return err(PyExc_TypeError, c, "missing argument '%s' (pos %d)", k->p[i].name, i + 1);
    return 0;
}

/* "finite", "in [0, 1)", ">= 1", ... : the range of p for messages. */
static const char *range_str(char *buf, const param *p) {
    if (p->kind == K_U64) return "in [0, 18446744073709551615]";
    if (p->lo == -FLT_MAX && p->hi == FLT_MAX) return "finite";
    if (p->lo == 0 && p->hi == FLT_MAX) return "finite and >= 0";
    if (isinf(p->lo)) return p->kind == K_FLTN ? "a number (not NaN)" : "in int64";
    if (isinf(p->hi)) snprintf(buf, 64, ">= %lld", LL(p->lo));
    else snprintf(buf, 64, "in [%.17g, %.17g%c", p->lo, p->hi, p->flags & F_OPEN ? ')' : ']');
    return buf;
}

/* Converts scalar i (or its default) into c->v[i] and the slots it fills. */
static int scalar(call *c, int i) {
    const param *p = &c->k->p[i];
    PyObject *o = c->o[i];
    value *v = &c->v[i];
    long long x[4];
    char r[64];
    int bad = 0; /* 1: not ints, 2: out of range */
    if (!o && (p->flags & F_REQ))
        return err(PyExc_TypeError, c, "missing required keyword argument '%s'", p->name);
    if (!o) { /* the default, into the value and the slots */
        if (p->kind == K_BOOL) v->b = p->def != 0;
        else if (p->kind <= K_FLTN) v->f = p->kind == K_FLTN ? INFINITY : (float)p->def;
        else v->i = (int64_t)p->def;
        for (int j = 0; j < p->nd; j++) c->s.d[p->dim[j]] = (int64_t)p->def;
        return 0;
    }
    switch (p->kind) {
    case K_BOOL:
        return (v->b = PyObject_IsTrue(o)) < 0 ? -1 : 0;
    case K_FLT:
    case K_FLTN: {
        if (o == Py_None && p->kind == K_FLTN) return v->f = INFINITY, 0;
        double d = PyFloat_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred()) break;
        v->f = fabs(d) > FLT_MAX ? (float)copysign(INFINITY, d) : (float)d;
        if ((p->flags & F_ANY) ||
            (v->f >= p->lo && ((p->flags & F_OPEN) ? v->f < p->hi : v->f <= p->hi)))
            return 0;
        return err(PyExc_ValueError, c, "argument '%s' must be %s%s, received %R", p->name,
                   p->kind == K_FLTN ? "None or " : "", range_str(r, p), o);
    }
    case K_INT:
    case K_U64: {
        PyObject *ix = PyNumber_Index(o);
        if (!ix) break;
        if (p->kind == K_U64) v->u = PyLong_AsUnsignedLongLong(ix);
        else v->i = PyLong_AsLongLong(ix);
        Py_DECREF(ix);
        bad = PyErr_Occurred() || (p->kind == K_INT && (v->i < p->lo || v->i > p->hi));
        for (int j = 0; !bad && j < p->nd; j++) c->s.d[p->dim[j]] = v->i;
        if (!bad) return 0;
        PyErr_Clear();
        return err(PyExc_ValueError, c, "argument '%s' must be an int %s, received %R", p->name,
                   range_str(r, p), o);
    }
    case K_INTS: {
        PyObject *seq = (p->flags & F_SEQ) ? PySequence_Fast(o, "")
                        : PyTuple_Check(o) ? Py_NewRef(o) : NULL;
        bad = !seq || PySequence_Fast_GET_SIZE(seq) != p->count;
        for (int j = 0; !bad && j < p->count; j++) {
            x[j] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, j));
            if (x[j] == -1 && PyErr_Occurred())
                bad = PyErr_ExceptionMatches(PyExc_OverflowError) ? 2 : 1;
            else if (x[j] < p->lo || x[j] > p->hi)
                bad = 2;
        }
        Py_XDECREF(seq);
        if (bad)
            return PyErr_Clear(), err(bad == 1 ? PyExc_TypeError : PyExc_ValueError, c,
                       "argument '%s' must be a %s of %d ints%s%s%s%s, received %R", p->name,
                       p->flags & F_SEQ ? "sequence" : "tuple", p->count, p->nd > 0 ? " " : "",
                       p->layout, bad == 2 ? " " : "", bad == 2 ? range_str(r, p) : "", o);
        for (int j = 0; j < p->count; j++)
            if (p->nd > 0) c->s.d[p->dim[j]] = x[j];
            else v->w[j] = (uint32_t)x[j];
        return 0;
    }
    }
    PyErr_Clear();
    return err(PyExc_TypeError, c, "argument '%s' must be %s, received %R", p->name,
               p->kind == K_FLT ? "a float" : p->kind == K_FLTN ? "None or a float" : "an int", o);
}

static const int typenums[] = {NPY_FLOAT32, NPY_INT32, NPY_UINT8, NPY_INT64};
static const char *const typenames[] = {"float32", "int32", "uint8", "int64"};

/* Validates array i into c->arr[i] / c->a[i] (NULL for an allowed None). */
static int array(call *c, int i) {
    const param *p = &c->k->p[i], *w = p->need >= 0 ? &c->k->p[p->need] : NULL;
    PyObject *o = c->o[i];
    PyArrayObject *x = (PyArrayObject *)o;
    const char *name = p->name, *want = typenames[p->kind];
    c->a[i] = NULL;
    if ((o == NULL || o == Py_None) && (p->flags & F_OPT)) { /* keyword arrays may be left out */
        if (w && (w->kind == K_BOOL ? c->v[p->need].b != 0 : c->v[p->need].f != 0.0f))
            return err(PyExc_ValueError, c, "argument '%s' must be a %s array when %s%s, "
                       "received None", name, want, w->name, w->kind == K_BOOL ? "" : " != 0");
        return 0;
    }
    if (!PyArray_Check(o))
        return err(PyExc_TypeError, c, "argument '%s' must be a numpy.ndarray of %s, received %s",
                   name, want, Py_TYPE(o)->tp_name);
    if (PyArray_TYPE(x) != typenums[p->kind])
        return err(PyExc_TypeError, c, "argument '%s' must have dtype %s, received %S", name,
                   want, (PyObject *)PyArray_DESCR(x));
    if (!PyArray_ISNOTSWAPPED(x))
        return err(PyExc_TypeError, c, "argument '%s' must be in native byte order, received a "
                   "byte-swapped array", name);
    if (!PyArray_IS_C_CONTIGUOUS(x))
        return err(PyExc_ValueError, c, "argument '%s' must be C-contiguous, received a strided "
                   "view (use numpy.ascontiguousarray)", name);
    if (!PyArray_ISALIGNED(x))
        return err(PyExc_ValueError, c, "argument '%s' must be aligned to its dtype, received an "
                   "unaligned array", name);
    if ((p->flags & F_OUT) && !PyArray_ISWRITEABLE(x))
        return err(PyExc_ValueError, c, "argument '%s' is an output and must be writeable, "
                   "received a read-only array", name);
    c->arr[i] = x, c->a[i] = PyArray_DATA(x);
    return 0;
}

/* The slots the F_DEF arrays define. */
static int define(call *c) {
    for (int i = 0; i < c->k->na; i++) {
        const param *p = &c->k->p[i];
        if (!(p->flags & F_DEF) || !c->arr[i]) continue;
        if (need_nd(c, i, p->nd)) return -1;
        for (int j = 0; j < p->nd; j++)
            if (p->defmask >> j & 1) c->s.d[p->dim[j]] = PyArray_DIM(c->arr[i], j);
    }
    return 0;
}

/* 0 if array i has its exact shape, else -1 with ValueError. */
static inline int check_shape(call *c, int i) {
    const param *p = &c->k->p[i];
    PyArrayObject *x = c->arr[i], *y = p->like >= 0 ? c->arr[p->like] : NULL;
    if (!x || (p->nd < 0 && !y) || ((p->flags & F_DEF) && p->defmask + 1 == 1u << p->nd)) return 0;
    int64_t want[NPY_MAXDIMS];
    int nd = y ? PyArray_NDIM(y) : p->nd, ok = PyArray_NDIM(x) == nd;
    for (int j = 0; j < nd; j++)
        ok &= PyArray_DIM(x, j) == (want[j] = y ? PyArray_DIM(y, j) : c->s.d[p->dim[j]]);
    return ok ? 0 : bad_shape(c, i, nd, want, p->layout);
}

/* 0 if no output shares memory with another array (F_INPLACE: but exactly the first). */
static int disjoint(call *c) {
    const kernel *k = c->k;
    uintptr_t end[MAXP];
    for (int i = 0; i < k->na; i++)
        end[i] = c->arr[i] ? (uintptr_t)c->a[i] + (uintptr_t)PyArray_NBYTES(c->arr[i]) : 0;
    for (int i = 0; i < k->na; i++)
        for (int j = 0; c->arr[i] && (k->p[i].flags & F_OUT) && j < k->na; j++) {
            uintptr_t a = (uintptr_t)c->a[i], b = (uintptr_t)c->a[j];
            if (j == i || !c->arr[j] || a == end[i] || b == end[j] || end[i] <= b || end[j] <= a)
                continue;
            if ((k->p[i].flags & F_INPLACE) && j == 0 && c->a[i] == c->a[0]) continue;
            return err(PyExc_ValueError, c, "output '%s' must not share memory with argument "
                       "'%s', received overlapping arrays", k->p[i].name, k->p[j].name);
        }
    return 0;
}

/* The one wrapper. The arrays are borrowed from the caller's arguments, alive for the call. */
/* ================================================================ plans
 *
 * A plan is a recorded sequence of kernel calls, replayed by plan_run in one call with the GIL
 * released once: what a model's inference forward costs without Python. plan_begin() starts
 * recording on the calling thread; every kernel that thread then calls successfully is also
 * appended (its validated `call`, its workspace kept, its arrays referenced); plan_end()
 * returns the plan in a capsule. A kernel with a Python result cannot be replayed (its result
 * would be lost): it makes plan_end() raise. Replaying reads and writes the very arrays of
 * the recording, so the caller keeps them in place (dlc: a workspace's buffers). */
typedef struct {
    call *steps;
    Py_ssize_t n, cap;
    const char *bad; /* the first kernel that cannot be replayed, or NULL */
} plan;

static plan *recording = NULL;
static unsigned long recording_thread = 0;

static void plan_free(plan *pl) {
    for (Py_ssize_t i = 0; i < pl->n; i++) {
        free(pl->steps[i].ws);
        for (int j = 0; j < pl->steps[i].k->na; j++) Py_XDECREF(pl->steps[i].arr[j]);
    }
    free(pl->steps);
    free(pl);
}

/* Appends a copy of the successful call c (its workspace now the plan's): 0, or -1 (no memory,
 * an exception set; c keeps its workspace then). */
static int plan_add(plan *pl, call *c) {
    if (c->k->result && !pl->bad) pl->bad = c->k->name;
    if (pl->n == pl->cap) {
        Py_ssize_t cap = pl->cap ? 2 * pl->cap : 32;
        call *more = realloc(pl->steps, (size_t)cap * sizeof *more);
        if (!more) return PyErr_NoMemory(), -1;
        pl->steps = more, pl->cap = cap;
    }
    call *d = &pl->steps[pl->n++];
    *d = *c;
    for (int j = 0; j < c->k->na; j++) {
        d->o[j] = NULL; /* the arguments' objects are not kept: only the arrays */
        Py_XINCREF(d->arr[j]);
    }
    c->ws = NULL;
    return 0;
}

static void plan_capsule_free(PyObject *cap) {
    plan *pl = PyCapsule_GetPointer(cap, "dlc.plan");
    if (pl) plan_free(pl);
}

static PyObject *py_plan_begin(PyObject *self UNUSED, PyObject *args UNUSED) {
    if (recording)
        return PyErr_Format(PyExc_RuntimeError, "plan_begin: a plan is already being recorded");
    if (!(recording = calloc(1, sizeof *recording))) return PyErr_NoMemory();
    recording_thread = PyThread_get_thread_ident();
    Py_RETURN_NONE;
}

static PyObject *py_plan_end(PyObject *self UNUSED, PyObject *args UNUSED) {
    plan *pl = recording;
    if (!pl) return PyErr_Format(PyExc_RuntimeError, "plan_end: no plan is being recorded");
    recording = NULL;
    if (pl->bad) {
        PyErr_Format(PyExc_ValueError, "plan_end: kernel '%s' returns a value and cannot be "
                     "replayed in a plan", pl->bad);
        plan_free(pl);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(pl, "dlc.plan", plan_capsule_free);
    if (!cap) plan_free(pl);
    return cap;
}

static PyObject *py_plan_run(PyObject *self UNUSED, PyObject *cap) {
    plan *pl = PyCapsule_GetPointer(cap, "dlc.plan");
    if (!pl) return NULL; /* not a plan: the capsule's TypeError/ValueError */
    dlc_status st = DLC_OK;
    Py_ssize_t i = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; i < pl->n && st == DLC_OK; i++) st = pl->steps[i].k->run(&pl->steps[i]);
    Py_END_ALLOW_THREADS
    if (st != DLC_OK) /* the arguments were valid when recorded: only data can fail (labels) */
        return PyErr_Format(st == DLC_ENOMEM ? PyExc_MemoryError : PyExc_ValueError,
                            "plan_run: step %zd (%s) failed", i - 1, pl->steps[i - 1].k->name);
    Py_RETURN_NONE;
}

static PyObject *py_plan_steps(PyObject *self UNUSED, PyObject *cap) {
    plan *pl = PyCapsule_GetPointer(cap, "dlc.plan");
    if (!pl) return NULL;
    PyObject *names = PyList_New(pl->n);
    for (Py_ssize_t i = 0; names && i < pl->n; i++)
        PyList_SET_ITEM(names, i, PyUnicode_FromString(pl->steps[i].k->name));
    return names;
}

static PyObject *run(const kernel *k, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    call c; /* only what is read before being written is zeroed: the shape, o[] and arr[] */
    c.k = k, c.ws = NULL, memset(&c.s, 0, sizeof c.s);
    memset(c.o, 0, (size_t)k->np * sizeof *c.o), memset(c.arr, 0, (size_t)k->np * sizeof *c.arr);
    if (bind(&c, args, nargs, kwnames)) return NULL;
    for (int i = k->na; i < k->np; i++)
        if (scalar(&c, i)) return NULL;
    for (int i = 0; i < k->na; i++)
        if (array(&c, i)) return NULL;
    if (define(&c) || (k->fam->finish && k->fam->finish(&c))) return NULL;
    for (int i = 0; i < k->na; i++)
        if (check_shape(&c, i)) return NULL;
    if (disjoint(&c)) return NULL;
    c.wsz = k->ws ? k->ws(&c) : 0;
    if (c.wsz && posix_memalign(&c.ws, 64, c.wsz) != 0)
        return PyErr_Format(PyExc_MemoryError, "%s: could not allocate a %zu-byte workspace",
                            k->name, c.wsz);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = k->run(&c);
    Py_END_ALLOW_THREADS
    if (st == DLC_OK && recording && recording_thread == PyThread_get_thread_ident() &&
        plan_add(recording, &c)) {
        free(c.ws);
        return NULL;
    }
    free(c.ws);
    if (st == DLC_OK) return k->result ? k->result(&c) : Py_NewRef(Py_None);
    if (st == DLC_ENOMEM)
        return PyErr_Format(PyExc_MemoryError, "%s: workspace missing or too small", k->name);
    char msg[256] = "invalid arguments (a size, hyperparameter or label is out of range)";
    if (k->einval) snprintf(msg, sizeof msg, k->einval, LL(c.s.d[k->eidx]));
    return PyErr_Format(PyExc_ValueError, "%s: %s", k->name, msg);
}

/* ================================================================ shape families */

#define S (c->s)
#define DIM(i, j) ((int64_t)PyArray_DIM(c->arr[i], j))

/* Elementwise: n = the size of the first array (every other is like it). */
static int fin_elem(call *c) { return S.d[0] = PyArray_SIZE(c->arr[0]), 0; }

/* The first array as m rows of its last axis, k long: softmax (aux 0) takes any size;
 * batchnorm needs k >= 1 channels (aux 1) and, for batch statistics, m >= 1 (aux 2). */
static int fin_rows(call *c) {
    int nd = PyArray_NDIM(c->arr[0]), aux = c->k->fam->aux;
    if (nd < 1 && !aux)
        return err(PyExc_ValueError, c, "argument '%s' must have at least 1 dimension, received "
                   "a 0-d array", c->k->p[0].name);
    if (aux && (nd < 1 || DIM(0, nd - 1) <= 0))
        return fail_shape(c, 0, "must have at least 1 dimension and a positive channel count "
                          "(last axis)");
    S.mk.k = DIM(0, nd - 1), S.mk.m = S.mk.k ? PyArray_SIZE(c->arr[0]) / S.mk.k : 0;
    if (aux == 2 && S.mk.m == 0)
        return fail_shape(c, 0, "must hold at least one row of batch statistics");
    return 0;
}

/* Losses: the first array is (m, k) with k >= 1. */
static int fin_loss(call *c) {
    return S.mk.k >= 1 ? 0 : fail_shape(c, 0, "must have at least 1 column");
}

/* The F_DEF array whose shape starts with that slot. */
static int definer(const call *c, int slot) {
    int i = 0;
    while (i < c->k->na - 1 && !((c->k->p[i].flags & F_DEF) && c->k->p[i].dim[0] == slot)) i++;
    return i;
}

/* Conv, pool and global pool: the kernel derives oh, ow and checks the shape; a dlc_fault
 * becomes the exception (slot 0 is n, slot 4 of conv is kh; a fault the argument parsing
 * rules out gets the kernel's own text). Then conv's slot c / groups for the kernel array. */
static int fin_window(call *c) {
    const dlc_conv2d_shape *s = &S.conv;
    const dlc_pool2d_shape *q = &S.pool;
    const int conv = c->k->fam->aux == 1, pool = c->k->fam->aux == 2; /* else global pooling */
    dlc_fault f = conv ? dlc_conv2d_set_output(&S.conv) : pool ? dlc_pool2d_set_output(&S.pool)
                  : __builtin_mul_overflow(S.gp.h, S.gp.w, &S.gp.hw) ? DLC_FAULT_RANGE
                  : dlc_global_pool2d_fault(S.gp.n, S.gp.hw, S.gp.c);
    if (f == DLC_FAULT_NONE) return S.d[CONV_CG] = conv ? s->c / s->groups : 0, 0;
    if (f == DLC_FAULT_INPUT || (conv && f == DLC_FAULT_WINDOW))
        return fail_shape(c, definer(c, f == DLC_FAULT_INPUT ? 0 : 4), "must have positive sizes");
    if (f == DLC_FAULT_GROUPS)
        return err(PyExc_ValueError, c, "input channels (%lld) and output channels (%lld) must be "
                   "divisible by groups, received groups=%lld", LL(s->c), LL(s->oc), LL(s->groups));
    if (pool && f == DLC_FAULT_PADDING)
        return err(PyExc_ValueError, c, "argument 'padding' must be >= 0 and smaller than pool_size"
                   " (%lld, %lld) on each side, received (%lld, %lld, %lld, %lld)", LL(q->ph),
                   LL(q->pw), LL(q->pad_top), LL(q->pad_bottom), LL(q->pad_left), LL(q->pad_right));
    if (conv && f == DLC_FAULT_FIT)
        return err(PyExc_ValueError, c, "the dilated kernel (%lld x %lld) must fit in the padded "
                   "input (%lld x %lld), received a larger kernel (output would be empty)",
                   LL(s->dh * (s->kh - 1) + 1), LL(s->dw * (s->kw - 1) + 1),
                   LL(s->h + s->pad_top + s->pad_bottom), LL(s->w + s->pad_left + s->pad_right));
    if (pool && f == DLC_FAULT_FIT)
        return err(PyExc_ValueError, c, "argument 'pool_size' (%lld, %lld) must fit the padded "
                   "input (%lld, %lld)", LL(q->ph), LL(q->pw),
                   LL(q->h + q->pad_top + q->pad_bottom), LL(q->w + q->pad_left + q->pad_right));
    if (pool && f == DLC_FAULT_RANGE)
        return err(PyExc_ValueError, c, "h * w (%lld * %lld), pool_size (%lld, %lld) and strides "
                   "(%lld, %lld) must each be below 2**31 (argmax is int32)", LL(q->h), LL(q->w),
                   LL(q->ph), LL(q->pw), LL(q->sh), LL(q->sw));
    if (!conv && f == DLC_FAULT_RANGE) /* global pooling: n, h, w, c are slots 0-3 as in pool */
        return err(PyExc_ValueError, c, "h * w (%lld * %lld) must be below 2**31 (argmax is "
                   "int32)", LL(S.gp.h), LL(S.gp.w));
    return err(PyExc_ValueError, c, "invalid shape: %s", dlc_fault_text(f));
}

/* Array ib is b of a GEMM: op(b) is (k, n), so b is (k, n), or (n, k) with trans_b. Sets ldc. */
static int gemm_b(call *c, int ib, int tb) {
    int64_t want[2] = {tb ? S.mm.n : S.mm.k, tb ? S.mm.k : S.mm.n};
    S.mm.ldc = DLC_MAX(S.mm.n, 1);
    if (DIM(ib, 0) == want[0] && DIM(ib, 1) == want[1]) return 0;
    return bad_shape(c, ib, 2, want, tb ? "(n, k) (trans_b)" : "(k, n)");
}

/* gemm(a, b, c, ...): m, k from a, n from b (through the transposes); ld 0 becomes 1. */
static int fin_gemm(call *c) {
    const int ta = c->v[4].b, tb = c->v[5].b;
    if (c->v[8].b && c->v[9].b)
        return err(PyExc_ValueError, c, "arguments 'reference' and 'serial' are exclusive, "
                   "received both True");
    if (need_nd(c, 0, 2) || need_nd(c, 1, 2)) return -1;
    S.mm.m = DIM(0, ta ? 1 : 0), S.mm.k = DIM(0, ta ? 0 : 1), S.mm.n = DIM(1, tb ? 0 : 1);
    S.mm.lda = DLC_MAX(DIM(0, 1), 1), S.mm.ldb = DLC_MAX(DIM(1, 1), 1);
    return gemm_b(c, 1, tb);
}

/* gemm_rows(a, arow, b, c, ...): m, n from c, k from b; every row of A inside a. */
static int fin_gemm_rows(call *c) {
    const int tb = c->v[6].b;
    const int64_t kseg = c->v[4].i, sstride = c->v[5].i, size = PyArray_SIZE(c->arr[0]);
    if (need_nd(c, 0, 1) || need_nd(c, 2, 2)) return -1;
    const int64_t k = S.mm.k = DIM(2, tb ? 1 : 0);
    S.mm.ldb = DLC_MAX(DIM(2, 1), 1);
    if (gemm_b(c, 2, tb) || check_shape(c, 1)) return -1; /* arow before reading it */
    S.mm.kseg = kseg ? kseg : k > 0 ? k : 1;
    if (S.mm.kseg < 1 || (k > 0 && k % S.mm.kseg != 0))
        return err(PyExc_ValueError, c, "argument 'kseg' must be a positive divisor of k = %lld, "
                   "received %lld", LL(k), LL(kseg));
    if (sstride < 0 || sstride > size)
        return err(PyExc_ValueError, c, "argument 'sstride' must be in [0, a.size] = [0, %lld], "
                   "received %lld", LL(size), LL(sstride));
    int64_t span = 0; /* the last element of row i is at arow[i] + span - 1 */
    if (k > 0 && (__builtin_mul_overflow(k / S.mm.kseg - 1, sstride, &span) ||
                  __builtin_add_overflow(span, S.mm.kseg, &span)))
        return err(PyExc_ValueError, c, "argument 'sstride' = %lld makes a row span overflow",
                   LL(sstride));
    const int64_t *row = c->a[1];
    for (int64_t i = 0; i < S.mm.m; i++)
        if (row[i] < 0 || row[i] > size - span)
            return err(PyExc_ValueError, c, "argument 'arow' must hold offsets in [0, a.size - "
                       "%lld] = [0, %lld] (a row spans %lld floats), received %lld at index %lld",
                       LL(span), LL(size - span), LL(span), LL(row[i]), LL(i));
    return 0;
}

/* Slot names follow the field order of the struct each family fills (see `shape`). */
static const family fam_none = {"", NULL, 0}, fam_elem = {"=n", fin_elem, 0},
    fam_rows = {"=m =k", fin_rows, 0}, fam_bn = {"=m =c", fin_rows, 1},
    fam_bn_rows = {"=m =c", fin_rows, 2}, fam_loss = {"m k", fin_loss, 0},
    fam_conv = {"n h w c kh kw oc sh sw dh dw pad_top pad_bottom pad_left pad_right groups "
                "=oh =ow =c/groups", fin_window, 1},
    fam_pool = {"n h w c ph pw sh sw pad_top pad_bottom pad_left pad_right =oh =ow", fin_window, 2},
    fam_gpool = {"n h w c =hw", fin_window, 0}, fam_gemm = {"=m =n =k =lda =ldb =ldc", fin_gemm, 0},
    fam_gemm_rows = {"m n =k =lda =ldb =ldc =kseg", fin_gemm_rows, 0};

/* ================================================================ kernels */

/* Parameters. Arrays: name, dtype, flags, shape. Scalars (keyword-only): name, default, range. */
#define ARR(nm, ty, fl, sh) {.name = #nm, .kind = ty, .flags = (fl), .shape = sh}
#define IN(nm, sh) ARR(nm, K_F32, 0, sh)
#define OUT(nm, sh) ARR(nm, K_F32, F_OUT, sh)
#define FLT(...) FLT_(__VA_ARGS__) /* expands FINITE, NONNEG, UNIT first */
#define SCALAR(nm, ty, fl, ...) {.name = #nm, .kind = ty, .flags = F_KW | (fl), __VA_ARGS__}
#define FLT_(nm, d, lo_, hi_, fl) SCALAR(nm, K_FLT, fl, .def = d, .lo = lo_, .hi = hi_)
#define FINITE -FLT_MAX, FLT_MAX
#define NONNEG 0, FLT_MAX
#define UNIT 0, 1
#define BOOL(nm, d) SCALAR(nm, K_BOOL, 0, .def = d)
#define INT(nm, d, lo_, sh, fl) \
    SCALAR(nm, K_INT, fl, .shape = sh, .def = d, .lo = lo_, .hi = INFINITY)
#define U64(nm) SCALAR(nm, K_U64, F_REQ)
#define INTS(nm, n, d, lo_, sh) \
    SCALAR(nm, K_INTS, 0, .shape = sh, .def = d, .lo = lo_, .hi = INFINITY, .count = n)
/* One record per kernel. expr is the dlc_* call: it reads the arrays' data A(i) and the scalars
 * F(i) (float), B(i) (bool), L(i) (int64), U(i) (uint64) by parameter index, the shape as S. */
#define KERNEL(nm, fam_, doc_, expr, ...)                                                      \
    static dlc_status nm##_run(call *c UNUSED) { return expr; }                                \
    static kernel nm##_k = {.name = #nm, .doc = doc_, .fam = &fam_, .run = nm##_run, __VA_ARGS__}
#define A(i) (c->a[i])
#define F(i) (c->v[i].f)
#define B(i) (c->v[i].b)
#define L(j) (c->v[j].i)
#define U(i) (c->v[i].u)
#define N (c->s.d[0])
#define MK S.mk.m, S.mk.k
/* ---------------------------------------------------------------- gemm */
#define MNK S.mm.m, S.mm.n, S.mm.k
static size_t serial_ws(const call *c) { return dlc_sgemm_serial_workspace_size(MNK); }
static size_t gemm_ws(const call *c) {
    return B(8) ? 0 : B(9) ? serial_ws(c) : dlc_sgemm_workspace_size(MNK);
}
/* The plain GEMM, or the fused epilogue (bias, relu) when asked; reference: no epilogue. */
static dlc_status gemm_call(call *c) {
    if (B(8)) {
        if (A(3) || B(10)) return DLC_EINVAL;
        return dlc_sgemm_ref(B(4), B(5), MNK, F(6), A(0), S.mm.lda, A(1), S.mm.ldb, F(7), A(2),
                             S.mm.ldc);
    }
    if (B(9))
        return dlc_sgemm_serial_epi(B(4), B(5), MNK, F(6), A(0), S.mm.lda, A(1), S.mm.ldb, F(7),
                                    A(2), S.mm.ldc, A(3), B(10), c->ws, c->wsz);
    return dlc_sgemm_ex(B(4), B(5), MNK, F(6), A(0), S.mm.lda, A(1), S.mm.ldb, F(7), A(2),
                        S.mm.ldc, A(3), B(10), c->ws, c->wsz);
}
#define ALPHA_BETA FLT(alpha, 1, 0, 0, F_ANY), FLT(beta, 0, 0, 0, F_ANY)
KERNEL(gemm, fam_gemm, "c = relu?(alpha * op(a) @ op(b) + beta * c + bias), 2-D (bias: one "
       "value per column, may be None; relu: the fused ReLU); reference=True runs the naive "
       "dlc_sgemm_ref (no bias, relu), serial=True the single-threaded dlc_sgemm_serial (tests).",
       gemm_call(c), .ws = gemm_ws,
       .p = {IN(a, NULL), IN(b, NULL), ARR(c, K_F32, F_OUT | F_DEF, "m, n"),
             ARR(bias, K_F32, F_OPT | F_KW, "n"), BOOL(trans_a, 0), BOOL(trans_b, 0),
             ALPHA_BETA, BOOL(reference, 0), BOOL(serial, 0), BOOL(relu, 0)});
KERNEL(gemm_rows, fam_gemm_rows, "internal serial GEMM (tests): row i of A is the k / kseg "
       "runs a[arow[i] + s * sstride : ... + kseg] (kseg 0: one run of k); k, n from b.",
       dlc_sgemm_serial_rows(B(6), MNK, F(7), A(0), A(1), S.mm.kseg, L(5), A(2), S.mm.ldb, F(8),
                             A(3), S.mm.ldc, c->ws, c->wsz), .ws = serial_ws,
       .p = {IN(a, NULL), ARR(arow, K_I64, 0, "m"), IN(b, NULL),
             ARR(c, K_F32, F_OUT | F_DEF, "m, n"), INT(kseg, 0, -INFINITY, NULL, 0),
             INT(sstride, 0, -INFINITY, NULL, 0), BOOL(trans_b, 0), ALPHA_BETA});
/* ---------------------------------------------------------------- conv2d */
#define NHWC(nm, fl) ARR(nm, K_F32, F_DEF | (fl), "n, h, w, c")
#define KHWC(nm, fl) ARR(nm, K_F32, F_DEF | (fl), "kh, kw, c/groups, oc")
#define PADDING INTS(padding, 4, 0, 0, "pad_top, pad_bottom, pad_left, pad_right")
#define CONV_HYPER INTS(strides, 2, 1, 1, "sh, sw"), INTS(dilation, 2, 1, 1, "dh, dw"), PADDING, \
    INT(groups, 1, 1, "groups", 0)
static size_t conv_ws(const call *c) { return dlc_conv2d_workspace_size(&S.conv); }
KERNEL(conv2d_forward, fam_conv, "y = conv(x, w) + b (NHWC; b may be None); relu=True fuses "
       "the ReLU.", dlc_conv2d_forward_ex(&S.conv, A(0), A(1), A(2), A(3), B(8), c->ws, c->wsz),
       .ws = conv_ws,
       .p = {NHWC(x, 0), KHWC(w, 0), ARR(b, K_F32, F_OPT, "oc"), OUT(y, "n, oh, ow, oc"),
             CONV_HYPER, BOOL(relu, 0)});
#define DY_MASK ARR(dy_mask, K_F32, F_OPT | F_KW, "n, oh, ow, oc")
KERNEL(conv2d_backward_data, fam_conv, "dx += the input gradient of conv2d (accumulate=False: "
       "dx =); dy_mask: dy read as dy * (dy_mask > 0), the ReLU that produced dy fused.",
       dlc_conv2d_backward_data_ex(&S.conv, A(0), A(3), A(1), A(2), B(8), c->ws, c->wsz),
       .ws = conv_ws,
       .p = {IN(dy, "n, oh, ow, oc"), KHWC(w, 0), NHWC(dx, F_OUT), DY_MASK, CONV_HYPER,
             BOOL(accumulate, 1)});
KERNEL(conv2d_backward_weights, fam_conv, "dw += the kernel gradient, db += the sum of dy (db "
       "may be None; accumulate=False: =); dy_mask as conv2d_backward_data.",
       dlc_conv2d_backward_weights_ex(&S.conv, A(0), A(1), A(4), A(2), A(3), B(9), c->ws, c->wsz),
       .ws = conv_ws, .p = {NHWC(x, 0), IN(dy, "n, oh, ow, oc"), KHWC(dw, F_OUT),
                            ARR(db, K_F32, F_OUT | F_OPT, "oc"), DY_MASK, CONV_HYPER,
                            BOOL(accumulate, 1)});
/* ---------------------------------------------------------------- pool2d */
#define POOLED(nm, ty, fl) ARR(nm, ty, fl, "n, oh, ow, c")
#define POOL_HYPER INTS(pool_size, 2, 2, 1, "ph, pw"), INTS(strides, 2, 2, 1, "sh, sw"), PADDING
KERNEL(maxpool2d_forward, fam_pool, "max pooling, NHWC; argmax (int32) is ih * w + iw (None: "
       "not written, for inference).",
       dlc_maxpool2d_forward(&S.pool, A(0), A(1), A(2)),
       .p = {NHWC(x, 0), POOLED(y, K_F32, F_OUT), POOLED(argmax, K_I32, F_OUT | F_OPT),
             POOL_HYPER});
KERNEL(maxpool2d_backward, fam_pool, "dx += dy routed to argmax (accumulate=False: dx =; "
       "relu_y, overwrite only: the pooled output of a ReLU's result, its backward fused).",
       dlc_maxpool2d_backward_ex(&S.pool, A(0), A(1), A(3), A(2), B(7)),
       .p = {POOLED(dy, K_F32, 0), POOLED(argmax, K_I32, 0), NHWC(dx, F_OUT),
             POOLED(relu_y, K_F32, F_OPT | F_KW), POOL_HYPER, BOOL(accumulate, 1)});
KERNEL(avgpool2d_forward, fam_pool, "average pooling, NHWC, padding not counted.",
       dlc_avgpool2d_forward(&S.pool, A(0), A(1)),
       .p = {NHWC(x, 0), POOLED(y, K_F32, F_OUT), POOL_HYPER});
KERNEL(avgpool2d_backward, fam_pool, "dx += dy spread over each window.",
       dlc_avgpool2d_backward(&S.pool, A(0), A(1)),
       .p = {POOLED(dy, K_F32, 0), NHWC(dx, F_OUT), POOL_HYPER});
#define GP(nm, ty, fl) ARR(nm, ty, fl, "n, c")
#define NHWC_ S.gp.n, S.gp.hw, S.gp.c
KERNEL(global_maxpool2d_forward, fam_gpool, "y, argmax (n, c): the max over h and w, argmax "
       "ih * w + iw.", dlc_global_maxpool2d_forward(NHWC_, A(0), A(1), A(2)),
       .p = {NHWC(x, 0), GP(y, K_F32, F_OUT), GP(argmax, K_I32, F_OUT)});
KERNEL(global_maxpool2d_backward, fam_gpool, "dx += dy at argmax.",
       dlc_global_maxpool2d_backward(NHWC_, A(0), A(1), A(2)), .eslot = "hw",
       .einval = "argument 'argmax' must hold indices in [0, h * w) = [0, %lld), received an "
                 "index outside it (dx is unchanged)",
       .p = {GP(dy, K_F32, 0), GP(argmax, K_I32, 0), NHWC(dx, F_OUT)});
KERNEL(global_avgpool2d_forward, fam_gpool, "y (n, c): the mean over h and w.",
       dlc_global_avgpool2d_forward(NHWC_, A(0), A(1)), .p = {NHWC(x, 0), GP(y, K_F32, F_OUT)});
KERNEL(global_avgpool2d_backward, fam_gpool, "dx += dy / (h * w).",
       dlc_global_avgpool2d_backward(NHWC_, A(0), A(1)), .p = {GP(dy, K_F32, 0), NHWC(dx, F_OUT)});
/* ---------------------------------------------------------------- batchnorm */
#define CH(nm, fl) ARR(nm, K_F32, fl, "c")
#define EPS3 FLT(epsilon, 1e-3, NONNEG, 0)
static size_t bn_ws(const call *c) { return dlc_batchnorm_workspace_size(MK); }
KERNEL(batchnorm_forward_train, fam_bn_rows, "batch statistics over every axis but the last; "
       "updates the moving statistics (Keras convention, biased variance).",
       dlc_batchnorm_forward_train(MK, F(8), F(9), A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7),
                                   B(10), c->ws, c->wsz), .ws = bn_ws,
       .p = {IN(x, NULL), CH(gamma, F_OPT), CH(beta, F_OPT), OUT(y, "like x"), CH(mean, F_OUT),
             CH(invstd, F_OUT), CH(moving_mean, F_OUT), CH(moving_var, F_OUT), EPS3,
             FLT(momentum, 0.99, FINITE, 0), BOOL(relu, 0)});
KERNEL(batchnorm_forward_infer, fam_bn, "normalise with the moving statistics (relu=True fuses "
       "a ReLU into the store, as batchnorm_forward_train).",
       dlc_batchnorm_forward_infer(MK, F(6), A(0), A(1), A(2), A(3), A(4), A(5), B(7)),
       .p = {IN(x, NULL), CH(gamma, F_OPT), CH(beta, F_OPT), CH(moving_mean, 0), CH(moving_var, 0),
             OUT(y, "like x"), EPS3, BOOL(relu, 0)});
KERNEL(batchnorm_backward, fam_bn_rows, "dx, dgamma, dbeta += the gradients (gamma, dgamma, "
       "dbeta may be None; accumulate=False: dx = 0 + its gradient; dy_mask: dy read as "
       "0 + dy * (dy_mask > 0), the fused ReLU's backward).",
       dlc_batchnorm_backward(MK, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), B(9),
                              c->ws, c->wsz), .ws = bn_ws,
       .p = {IN(x, NULL), IN(dy, "like x"), CH(gamma, F_OPT), CH(mean, 0), CH(invstd, 0),
             OUT(dx, "like x"), CH(dgamma, F_OUT | F_OPT), CH(dbeta, F_OUT | F_OPT),
             ARR(dy_mask, K_F32, F_OPT | F_KW, "like x"), BOOL(accumulate, 1)});
/* ---------------------------------------------------------------- activations */
#define YINPLACE ARR(y, K_F32, F_OUT | F_INPLACE, "like x")
#define RELU_HYPER FLT(negative_slope, 0, FINITE, 0), FLT(threshold, 0, FINITE, 0), \
    {.name = "max_value", .kind = K_FLTN, .flags = F_KW, .lo = -INFINITY, .hi = INFINITY}
#define BACKWARD_Y(sh) IN(y, sh), IN(dy, "like y"), OUT(dx, "like y")
KERNEL(relu_forward, fam_elem, "Keras's general ReLU; y may be x (in place).",
       dlc_relu_forward(N, F(2), F(3), F(4), A(0), A(1)), .p = {IN(x, NULL), YINPLACE, RELU_HYPER});
KERNEL(relu_backward, fam_elem, "dx += dy * relu'(x) (accumulate=False: dx = 0 + that).",
       dlc_relu_backward_ex(N, F(3), F(4), F(5), A(0), A(1), A(2), B(6)),
       .p = {IN(x, NULL), IN(dy, "like x"), OUT(dx, "like x"), RELU_HYPER, BOOL(accumulate, 1)});
KERNEL(elu_forward, fam_elem, "y may be x (in place).", dlc_elu_forward(N, F(2), A(0), A(1)),
       .p = {IN(x, NULL), YINPLACE, FLT(alpha, 1, FINITE, 0)});
KERNEL(elu_backward, fam_elem, "dx += dy * elu'(x).",
       dlc_elu_backward(N, F(4), A(0), A(1), A(2), A(3)),
       .p = {IN(x, NULL), BACKWARD_Y("like x"), FLT(alpha, 1, FINITE, 0)});
KERNEL(sigmoid_forward, fam_elem, "stable logistic; y may be x (in place).",
       dlc_sigmoid_forward(N, A(0), A(1)), .p = {IN(x, NULL), YINPLACE});
KERNEL(sigmoid_backward, fam_elem, "dx += dy * y * (1 - y).",
       dlc_sigmoid_backward(N, A(0), A(1), A(2)), .p = {BACKWARD_Y(NULL)});
KERNEL(tanh_forward, fam_elem, "y may be x (in place).", dlc_tanh_forward(N, A(0), A(1)),
       .p = {IN(x, NULL), YINPLACE});
KERNEL(tanh_backward, fam_elem, "dx += dy * (1 - y * y).", dlc_tanh_backward(N, A(0), A(1), A(2)),
       .p = {BACKWARD_Y(NULL)});
/* An activation whose backward reads x: nm_forward(x, y) and nm_backward(x, dy, dx). */
#define X_ACTIVATION(nm, doc)                                                                  \
    KERNEL(nm##_forward, fam_elem, doc "; y may be x (in place).",                            \
           dlc_##nm##_forward(N, A(0), A(1)), .p = {IN(x, NULL), YINPLACE});                 \
    KERNEL(nm##_backward, fam_elem, "dx += dy * " #nm "'(x).",                                 \
           dlc_##nm##_backward(N, A(0), A(1), A(2)), .p = {IN(x, NULL), IN(dy, "like x"), OUT(dx, "like x")})
X_ACTIVATION(silu, "silu(x) = x * sigmoid(x)");
X_ACTIVATION(gelu, "gelu(x) = x * Phi(x) (exact, erf)");
KERNEL(softmax_forward, fam_rows, "over the last axis; y may be x (in place).",
       dlc_softmax_forward(MK, A(0), A(1)), .p = {IN(x, NULL), YINPLACE});
KERNEL(softmax_backward, fam_rows, "dx += y * (dy - sum(dy * y)) per row.",
       dlc_softmax_backward(MK, A(0), A(1), A(2)), .p = {BACKWARD_Y(NULL)});
/* ---------------------------------------------------------------- softmax_xent */
#define ROWS(nm) ARR(nm, K_F32, F_DEF, "m, k")
#define LABELS IN(labels, "m, k")
#define SCALE FLT(scale, 0, FINITE, F_REQ)
#define EPS7 FLT(epsilon, 1e-7, 0, 0.5, F_OPEN)
#define BAD_LABEL                                                                              \
    .eslot = "k", .einval = "argument 'labels' must hold class indices in [0, %lld), received a " \
                            "label out of range"
KERNEL(softmax_xent_forward, fam_loss, "probs = softmax(logits); loss[i] = -sum(labels[i] * "
       "log(probs[i])).", dlc_softmax_xent_forward(MK, A(0), A(1), A(2), A(3)),
       .p = {ROWS(logits), LABELS, OUT(probs, "m, k"), OUT(loss, "m")});
KERNEL(softmax_xent_backward, fam_loss, "dlogits += scale * (probs - labels).",
       dlc_softmax_xent_backward(MK, A(0), A(1), F(3), A(2)),
       .p = {ROWS(probs), LABELS, OUT(dlogits, "m, k"), SCALE});
KERNEL(softmax_xent_sparse_forward, fam_loss, "the same with int32 class indices labels (m,).",
       dlc_softmax_xent_sparse_forward(MK, A(0), A(1), A(2), A(3)), BAD_LABEL,
       .p = {ROWS(logits), ARR(labels, K_I32, 0, "m"), OUT(probs, "m, k"), OUT(loss, "m")});
KERNEL(softmax_xent_sparse_backward, fam_loss, "dlogits += scale * (probs - onehot(labels)).",
       dlc_softmax_xent_sparse_backward(MK, A(0), A(1), F(3), A(2)), BAD_LABEL,
       .p = {ROWS(probs), ARR(labels, K_I32, 0, "m"), OUT(dlogits, "m, k"), SCALE});
KERNEL(xent_forward, fam_loss, "Keras categorical cross-entropy on probabilities (renormalised, "
       "clipped).", dlc_xent_forward(MK, F(3), A(0), A(1), A(2)),
       .p = {ROWS(probs), LABELS, OUT(loss, "m"), EPS7});
KERNEL(xent_backward, fam_loss, "dprobs += scale * d loss / d probs.",
       dlc_xent_backward(MK, F(4), A(0), A(1), F(3), A(2)),
       .p = {ROWS(probs), LABELS, OUT(dprobs, "m, k"), SCALE, EPS7});
KERNEL(bce_forward, fam_loss, "binary cross-entropy, loss[i] = the mean over the last axis.",
       dlc_bce_forward(MK, B(3), F(4), A(0), A(1), A(2)),
       .p = {ROWS(x), LABELS, OUT(loss, "m"), BOOL(from_logits, 0), EPS7});
KERNEL(bce_backward, fam_loss, "dx += scale * d loss / dx.",
       dlc_bce_backward(MK, B(4), F(5), A(0), A(1), F(3), A(2)),
       .p = {ROWS(x), LABELS, OUT(dx, "m, k"), SCALE, BOOL(from_logits, 0), EPS7});
KERNEL(mse_forward, fam_loss, "loss[i] = mean((x[i] - labels[i])**2).",
       dlc_mse_forward(MK, A(0), A(1), A(2)), .p = {ROWS(x), LABELS, OUT(loss, "m")});
KERNEL(mse_backward, fam_loss, "dx += scale * 2 * (x - labels) / k.",
       dlc_mse_backward(MK, A(0), A(1), F(3), A(2)),
       .p = {ROWS(x), LABELS, OUT(dx, "m, k"), SCALE});
/* ---------------------------------------------------------------- dropout */
#define RATE FLT(rate, 0, 0, 1, F_OPEN | F_REQ)
#define WORDS(nm, n) {.name = #nm, .kind = K_INTS, .flags = F_SEQ, .count = n, .hi = 4294967295.0}
static PyObject *philox_result(call *c) {
    return Py_BuildValue("(IIII)", c->out[0], c->out[1], c->out[2], c->out[3]);
}
KERNEL(dropout_forward, fam_elem, "inverted dropout, mask (uint8) from Philox-4x32-10 keyed by "
       "(seed, step).", dlc_dropout_forward(N, F(3), U(4), U(5), A(0), A(1), A(2)),
       .p = {IN(x, NULL), OUT(y, "like x"), ARR(mask, K_U8, F_OUT, "like x"), RATE, U64(seed),
             U64(step)});
KERNEL(dropout_backward, fam_elem, "dx += dy * mask / (1 - rate) (accumulate=False: dx =; "
       "relu_y, overwrite only: the dropout's input, a ReLU's output, its backward fused).",
       dlc_dropout_backward_ex(N, F(4), A(0), A(1), A(3), A(2), B(5)),
       .p = {ARR(mask, K_U8, 0, NULL), IN(dy, "like mask"), OUT(dx, "like mask"),
             ARR(relu_y, K_F32, F_OPT | F_KW, "like mask"), RATE, BOOL(accumulate, 1)});
KERNEL(philox_uniform, fam_elem, "fills out (any shape) with the dropout stream, floats in [0, 1).",
       dlc_philox_uniform(N, U(1), U(2), A(0)), .p = {OUT(out, NULL), U64(seed), U64(step)});
KERNEL(philox4x32_10, fam_none, "returns 4 ints: one raw Philox4x32-10 block (known-answer tests).",
       dlc_philox4x32_10(c->v[0].w, c->v[1].w, c->out), .result = philox_result,
       .p = {WORDS(counter, 4), WORDS(key, 2)});
/* ---------------------------------------------------------------- optim */
#define WG OUT(w, NULL), IN(g, "like w")
#define STATE(nm, fl, w) {.name = #nm, .kind = K_F32, .flags = F_OUT | (fl), .shape = "like w", \
                          .when = w}
#define LR FLT(learning_rate, 0, NONNEG, F_REQ)
#define WD FLT(weight_decay, 0, NONNEG, 0)
#define EPS FLT(epsilon, 1e-7, NONNEG, 0)
KERNEL(sgd_step, fam_elem, "one Keras 3 SGD update in place.",
       dlc_sgd_step(N, F(3), F(4), B(5), F(6), A(0), A(1), A(2)),
       .p = {WG, STATE(v, F_OPT, "momentum"), LR, FLT(momentum, 0, UNIT, 0), BOOL(nesterov, 0),
             WD});
KERNEL(adagrad_step, fam_elem, "one Keras 3 Adagrad update in place.",
       dlc_adagrad_step(N, F(3), F(4), F(5), A(0), A(1), A(2)),
       .p = {WG, STATE(acc, 0, NULL), LR, EPS, WD});
KERNEL(rmsprop_step, fam_elem, "one Keras 3 RMSprop update in place.",
       dlc_rmsprop_step(N, F(5), F(6), F(7), F(8), B(9), F(10), A(0), A(1), A(2), A(3), A(4)),
       .p = {WG, STATE(v, 0, NULL), STATE(mom, F_OPT, "momentum"), STATE(avg, F_OPT, "centered"),
             LR, FLT(rho, 0.9, UNIT, 0), FLT(momentum, 0, UNIT, 0), EPS, BOOL(centered, 0), WD});
KERNEL(adam_step, fam_elem, "one Keras 3 Adam update in place (step is 1-based).",
       dlc_adam_step(N, F(5), F(6), F(7), F(8), B(9), L(10), F(11), A(0), A(1), A(2), A(3), A(4)),
       .p = {WG, STATE(m, 0, NULL), STATE(v, 0, NULL), STATE(vhat, F_OPT, "amsgrad"), LR,
             FLT(beta_1, 0.9, 0, 1, F_OPEN), FLT(beta_2, 0.999, 0, 1, F_OPEN), EPS,
             BOOL(amsgrad, 0), INT(step, 0, 1, NULL, F_REQ), WD});
KERNEL(adadelta_step, fam_elem, "one Keras 3 Adadelta update in place.",
       dlc_adadelta_step(N, F(4), F(5), F(6), F(7), A(0), A(1), A(2), A(3)),
       .p = {WG, STATE(acc_grad, 0, NULL), STATE(acc_delta, 0, NULL), LR, FLT(rho, 0.95, UNIT, 0),
             EPS, WD});
/* ---------------------------------------------------------------- perf: fused and data movement
 * (pool2d.c's max pooling + dropout pair, elementwise.c) */
KERNEL(maxpool2d_dropout_forward, fam_pool, "y = dropout(maxpool(x)); code (uint8) = the winner's "
       "window position | 0x80 when kept (the dropout stream of dropout_forward).",
       dlc_maxpool2d_dropout_forward(&S.pool, A(0), F(6), U(7), U(8), A(1), A(2)),
       .p = {NHWC(x, 0), POOLED(y, K_F32, F_OUT), POOLED(code, K_U8, F_OUT), POOL_HYPER, RATE,
             U64(seed), U64(step)});
KERNEL(maxpool2d_dropout_backward, fam_pool, "dx += the routed dy * kept / (1 - rate) "
       "(accumulate=False: dx =; relu_y: the pair's output y of a ReLU's result, overwrite only).",
       dlc_maxpool2d_dropout_backward(&S.pool, A(0), A(1), F(7), A(3), A(2), B(8)),
       .p = {POOLED(dy, K_F32, 0), POOLED(code, K_U8, 0), NHWC(dx, F_OUT),
             POOLED(relu_y, K_F32, F_OPT | F_KW), POOL_HYPER, RATE, BOOL(accumulate, 1)});
KERNEL(fill, fam_elem, "y[...] = value.", dlc_fill(N, F(1), A(0)),
       .p = {OUT(y, NULL), FLT(value, 0, 0, 0, F_ANY)});
KERNEL(copy, fam_elem, "y[...] = x (same size, no overlap).", dlc_copy(N, A(0), A(1)),
       .p = {IN(x, NULL), OUT(y, "like x")});
KERNEL(add_into, fam_elem, "y += x (same size, no overlap).", dlc_add_into(N, A(0), A(1)),
       .p = {IN(x, NULL), OUT(y, "like x")});
KERNEL(colsum, fam_rows, "y (k,) (+)= the sum of x's rows, x taken as (m, k), rows in order.",
       dlc_colsum(MK, A(0), A(1), B(2)), .p = {IN(x, NULL), OUT(y, "k"), BOOL(accumulate, 0)});
/* copy2d(x, y, *, rows, cols, ldx, ldy, offset_x, offset_y): both views inside their arrays. */
static int fin_copy2d(call *c) {
    const int64_t rows = L(2), cols = L(3), ldx = L(4), ldy = L(5), ox = L(6), oy = L(7);
    if (ldx < cols || ldy < cols)
        return err(PyExc_ValueError, c, "arguments 'ldx' and 'ldy' must be >= cols = %lld, "
                   "received %lld and %lld", LL(cols), LL(ldx), LL(ldy));
    for (int i = 0; i < 2 && rows > 0 && cols > 0; i++) {
        int64_t off = i ? oy : ox, ld = i ? ldy : ldx, end, size = PyArray_SIZE(c->arr[i]);
        if (__builtin_mul_overflow(rows - 1, ld, &end) || __builtin_add_overflow(end, off + cols, &end)
            || end > size)
            return err(PyExc_ValueError, c, "the %s view (offset %lld, %lld rows of %lld, stride "
                       "%lld) must lie inside the array of %lld floats", i ? "y" : "x", LL(off),
                       LL(rows), LL(cols), LL(ld), LL(size));
    }
    return 0;
}
static const family fam_copy2d = {"", fin_copy2d, 0};
#define SIZE(nm) INT(nm, 0, 0, NULL, F_REQ)
KERNEL(copy2d, fam_copy2d, "y[oy + r*ldy + j] (+)= x[ox + r*ldx + j] for r < rows, j < cols "
       "(flat arrays; concatenation along channels and its backward).",
       dlc_copy2d(L(2), L(3), (const float *)A(0) + L(6), L(4), (float *)A(1) + L(7), L(5), B(8)),
       .p = {IN(x, NULL), OUT(y, NULL), SIZE(rows), SIZE(cols), SIZE(ldx), SIZE(ldy),
             INT(offset_x, 0, 0, NULL, 0), INT(offset_y, 0, 0, NULL, 0), BOOL(accumulate, 0)});
#define PERF_KERNELS(X)                                                                        \
    X(maxpool2d_dropout_forward) X(maxpool2d_dropout_backward) X(fill) X(copy) X(add_into)    \
    X(colsum) X(copy2d)
/* ---------------------------------------------------------------- image.c */
/* warp: x (forward) or dx (backward) defines n, h, w, c; the output side (y forward, dy
 * backward: array `aux`) gives oh, ow; transform is (n, 8). */
#define WARP_SLOTS "n h w c =oh =ow =8"
static int fin_warp(call *c) {
    const int io = c->k->fam->aux;
    if (need_nd(c, io, 4)) return -1;
    S.d[4] = DIM(io, 1), S.d[5] = DIM(io, 2), S.d[6] = 8;
    const dlc_warp_shape ws = {S.d[0], S.d[1], S.d[2], S.d[3], S.d[4], S.d[5]};
    dlc_fault f = dlc_image_warp_fault(&ws);
    if (f == DLC_FAULT_NONE) return 0;
    if (f == DLC_FAULT_INPUT)
        return fail_shape(c, ws.n >= 1 && ws.h >= 1 && ws.w >= 1 && ws.c >= 1 ? io : definer(c, 0),
                          "must have positive sizes");
    return err(PyExc_ValueError, c, "the image (%lld x %lld) and the output (%lld x %lld) must be "
               "below 2**24 pixels on each side, received a larger size", LL(ws.h), LL(ws.w),
               LL(ws.oh), LL(ws.ow));
}
/* adjust: x (n, h, w, c); hw = h * w. */
static int fin_adjust(call *c) { return S.d[4] = S.d[1] * S.d[2], 0; }
/* normalize: the array `aux` (x or dy) must hold outer * k * inner values. */
static int fin_normalize(call *c) {
    const int ix = c->k->fam->aux;
    int64_t t;
    if (!__builtin_mul_overflow(S.d[0], S.d[1], &t) && !__builtin_mul_overflow(t, S.d[2], &t) &&
        t == (int64_t)PyArray_SIZE(c->arr[ix]))
        return 0;
    char got[128];
    return err(PyExc_ValueError, c, "argument '%s' must hold outer * k * inner = %lld * %lld * "
               "%lld values, received shape %s", c->k->p[ix].name, LL(S.d[0]), LL(S.d[1]),
               LL(S.d[2]), arr_str(got, c->arr[ix]));
}
static const family fam_warp_fwd = {WARP_SLOTS, fin_warp, 2}, fam_warp_bwd = {WARP_SLOTS, fin_warp, 0},
    fam_adjust = {"n h w c =hw", fin_adjust, 0}, fam_norm_fwd = {"outer k inner", fin_normalize, 0},
    fam_norm_bwd = {"outer k inner", fin_normalize, 1};
#define WARP_SHAPE(c) {S.d[0], S.d[1], S.d[2], S.d[3], S.d[4], S.d[5]}
static dlc_status warp_fwd_run(call *c) {
    const dlc_warp_shape ws = WARP_SHAPE(c);
    return dlc_image_warp_forward(&ws, (int)L(3), (int)L(4), F(5), A(0), A(1), A(2));
}
static dlc_status warp_bwd_run(call *c) {
    const dlc_warp_shape ws = WARP_SHAPE(c);
    return dlc_image_warp_backward(&ws, (int)L(3), (int)L(4), A(0), A(1), A(2));
}
#define IMG(nm, fl) ARR(nm, K_F32, F_DEF | (fl), "n, h, w, c")
#define WARP_HYPER SCALAR(interpolation, K_INT, 0, .def = 1, .lo = 0, .hi = 1), \
    SCALAR(fill_mode, K_INT, 0, .def = 2, .lo = 0, .hi = 3)
KERNEL(image_warp_forward, fam_warp_fwd, "per-sample projective resampling, NHWC: output pixel "
       "(x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + "
       "c1 y + 1, transform row [a0 a1 a2 b0 b1 b2 c0 c1]; interpolation 0 nearest, 1 bilinear; "
       "fill_mode 0 constant (fill_value), 1 nearest, 2 reflect, 3 wrap.", warp_fwd_run(c),
       .p = {IMG(x, 0), IN(transform, "n, 8"), OUT(y, "n, oh, ow, c"), WARP_HYPER,
             FLT(fill_value, 0, 0, 0, F_ANY)});
KERNEL(image_warp_backward, fam_warp_bwd, "dx += the adjoint of image_warp_forward applied to dy.",
       warp_bwd_run(c), .p = {IN(dy, "n, oh, ow, c"), IN(transform, "n, 8"), IMG(dx, F_OUT),
                               WARP_HYPER});
#define ADJUST_HYPER BOOL(center, 0), FLT(lo, 0, 0, 0, F_ANY | F_REQ), FLT(hi, 0, 0, 0, F_ANY | F_REQ)
#define ADJUST_EINVAL .einval = "arguments 'lo' and 'hi' must be numbers with lo <= hi"
KERNEL(image_adjust_forward, fam_adjust, "y = clip((x - m) * factor + m + delta, lo, hi) per "
       "sample, m the per-channel mean (center=True) or 0; mean (n, c) receives m.",
       dlc_image_adjust_forward(S.d[0], S.d[4], S.d[3], B(5), F(6), F(7), A(0), A(1), A(2), A(3),
                                A(4)), ADJUST_EINVAL,
       .p = {IMG(x, 0), IN(factor, "n"), IN(delta, "n"), OUT(y, "like x"), OUT(mean, "n, c"),
             ADJUST_HYPER});
KERNEL(image_adjust_backward, fam_adjust, "dx += the gradient of image_adjust_forward.",
       dlc_image_adjust_backward(S.d[0], S.d[4], S.d[3], B(6), F(7), F(8), A(0), A(1), A(2), A(3),
                                 A(4), A(5)), ADJUST_EINVAL,
       .p = {IMG(x, 0), IN(factor, "n"), IN(delta, "n"), IN(mean, "n, c"), IN(dy, "like x"),
             OUT(dx, "like x"), ADJUST_HYPER});
#define NORM_HYPER INT(outer, 0, 0, "outer", F_REQ), INT(inner, 0, 0, "inner", F_REQ), BOOL(divide, 0)
KERNEL(normalize_forward, fam_norm_fwd, "x as (outer, k, inner): y = (x - sub) * mul + add (or "
       "/ mul with divide=True) along k; y may be x (in place).",
       dlc_normalize_forward(L(5), S.d[1], L(6), B(7), A(0), A(1), A(2), A(3), A(4)),
       .p = {IN(x, NULL), ARR(sub, K_F32, F_DEF, "k"), IN(mul, "k"), IN(add, "k"),
             ARR(y, K_F32, F_OUT | F_INPLACE, "like x"), NORM_HYPER});
KERNEL(normalize_backward, fam_norm_bwd, "dx += dy * mul (or dy / mul with divide=True).",
       dlc_normalize_backward(L(3), S.d[1], L(4), B(5), A(0), A(1), A(2)),
       .p = {ARR(mul, K_F32, F_DEF, "k"), IN(dy, NULL), OUT(dx, "like dy"), NORM_HYPER});
/* ================================================================ more layers and losses
 * The kernels of losses.c, locally_connected.c, layernorm.c and noise.c; their names are
 * listed by MORE_KERNELS(X), one line of KERNELS(X). */
/* ---------------------------------------------------------------- losses.c */
#define LOSS_BACKWARD_DOC "dx += scale * d loss / dx."
/* A loss without a hyperparameter: nm_forward(x, labels, loss), nm_backward(x, labels, dx,
 * *, scale); with one (hp, read by get): the same with it keyword-only after them. */
#define LOSS_PLAIN(nm, doc)                                                                    \
    KERNEL(nm##_forward, fam_loss, doc, dlc_##nm##_forward(MK, A(0), A(1), A(2)),              \
           .p = {ROWS(x), LABELS, OUT(loss, "m")});                                            \
    KERNEL(nm##_backward, fam_loss, LOSS_BACKWARD_DOC,                                         \
           dlc_##nm##_backward(MK, A(0), A(1), F(3), A(2)),                                    \
           .p = {ROWS(x), LABELS, OUT(dx, "m, k"), SCALE})
#define LOSS_HYPER(nm, doc, get, hp)                                                           \
    KERNEL(nm##_forward, fam_loss, doc, dlc_##nm##_forward(MK, get(3), A(0), A(1), A(2)),      \
           .p = {ROWS(x), LABELS, OUT(loss, "m"), hp});                                        \
    KERNEL(nm##_backward, fam_loss, LOSS_BACKWARD_DOC,                                         \
           dlc_##nm##_backward(MK, get(4), A(0), A(1), F(3), A(2)),                            \
           .p = {ROWS(x), LABELS, OUT(dx, "m, k"), SCALE, hp})
#define EPS_POS FLT(epsilon, 1e-7, FLT_MIN, 0.5, F_OPEN)
LOSS_PLAIN(mae, "loss[i] = mean(|x[i] - labels[i]|).");
LOSS_HYPER(mape, "loss[i] = 100 * mean(|labels - x| / max(|labels|, epsilon)).", F, EPS7);
LOSS_HYPER(msle, "loss[i] = mean((log1p(max(x, eps)) - log1p(max(labels, eps)))**2).", F, EPS7);
LOSS_HYPER(huber, "Huber: mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2).", F,
           FLT(delta, 1, NONNEG, 0));
LOSS_PLAIN(log_cosh, "loss[i] = mean(log(cosh(x[i] - labels[i]))).");
LOSS_HYPER(poisson, "loss[i] = mean(x - labels * log(x + epsilon)).", F, EPS7);
LOSS_HYPER(kld, "loss[i] = sum(t * log(t / x)), t, x clipped to [epsilon, 1].", F, EPS7);
LOSS_HYPER(hinge, "loss[i] = mean(max(1 - y * x, 0)) (squared: of its square); y = 2 * labels - "
           "1 when every label is 0 or 1.", B, BOOL(squared, 0));
LOSS_PLAIN(categorical_hinge, "loss[i] = max(max((1 - labels) * x) - sum(labels * x) + 1, 0).");
LOSS_HYPER(cosine_similarity, "loss[i] = -sum(l2_normalize(x) * l2_normalize(labels)).", F,
           EPS_POS);
#define LOSS_KERNELS(X)                                                                        \
    X(mae_forward) X(mae_backward) X(mape_forward) X(mape_backward) X(msle_forward)            \
    X(msle_backward) X(huber_forward) X(huber_backward) X(log_cosh_forward)                    \
    X(log_cosh_backward) X(poisson_forward) X(poisson_backward) X(kld_forward)                 \
    X(kld_backward) X(hinge_forward) X(hinge_backward) X(categorical_hinge_forward)            \
    X(categorical_hinge_backward) X(cosine_similarity_forward) X(cosine_similarity_backward)
/* ---------------------------------------------------------------- locally_connected.c */
/* Slots: the shape struct's fields, then p = oh * ow and k = kh * kw * c of the kernel. */
#define LC_P 11
_Static_assert(sizeof(dlc_local2d_shape) == LC_P * sizeof(int64_t), "local2d slots");
static dlc_local2d_shape lc_shape(const call *c) {
    dlc_local2d_shape s;
    memcpy(&s, c->s.d, sizeof s);
    return s;
}
static int fin_local(call *c) {
    dlc_local2d_shape s = lc_shape(c);
    dlc_fault f = dlc_local2d_set_output(&s);
    memcpy(c->s.d, &s, sizeof s);
    if (f == DLC_FAULT_NONE) return S.d[LC_P] = s.oh * s.ow, S.d[LC_P + 1] = s.kh * s.kw * s.c, 0;
    if (f == DLC_FAULT_INPUT) return fail_shape(c, definer(c, 0), "must have positive sizes");
    if (f == DLC_FAULT_WINDOW)
        return err(PyExc_ValueError, c, "the kernel's last axis (filters) must be >= 1, received %lld",
                   LL(s.f));
    if (f == DLC_FAULT_FIT)
        return err(PyExc_ValueError, c, "argument 'kernel_size' (%lld, %lld) must fit in the input "
                   "(%lld, %lld) ('valid' padding), received a larger window", LL(s.kh), LL(s.kw),
                   LL(s.h), LL(s.w));
    return err(PyExc_ValueError, c, "invalid shape: %s", dlc_fault_text(f));
}
static const family fam_local = {"n h w c kh kw f sh sw =oh =ow =p =k", fin_local, 0};
#define LC_SHAPE ((const dlc_local2d_shape[1]){lc_shape(c)})
#define LC_HYPER                                                                               \
    SCALAR(kernel_size, K_INTS, F_REQ, .shape = "kh, kw", .lo = 1, .hi = INFINITY, .count = 2), \
        INTS(strides, 2, 1, 1, "sh, sw")
#define LC_W(nm, fl) ARR(nm, K_F32, F_DEF | (fl), "p, k, f")
#define LC_Y(nm, fl) ARR(nm, K_F32, fl, "n, oh, ow, f")
KERNEL(local2d_forward, fam_local, "y = the locally connected (unshared) convolution of x (NHWC, "
       "'valid'), w (oh * ow, kh * kw * c, f), plus b (oh, ow, f) (b may be None).",
       dlc_local2d_forward(LC_SHAPE, A(0), A(1), A(2), A(3)),
       .p = {NHWC(x, 0), LC_W(w, 0), ARR(b, K_F32, F_OPT, "oh, ow, f"), LC_Y(y, F_OUT), LC_HYPER});
KERNEL(local2d_backward_data, fam_local, "dx += the input gradient of local2d.",
       dlc_local2d_backward_data(LC_SHAPE, A(0), A(1), A(2)),
       .p = {LC_Y(dy, 0), LC_W(w, 0), NHWC(dx, F_OUT), LC_HYPER});
KERNEL(local2d_backward_weights, fam_local, "dw += the kernel gradient, db += the sum of dy over "
       "the batch (db may be None).", dlc_local2d_backward_weights(LC_SHAPE, A(0), A(1), A(2), A(3)),
       .p = {NHWC(x, 0), LC_Y(dy, 0), LC_W(dw, F_OUT), ARR(db, K_F32, F_OUT | F_OPT, "oh, ow, f"),
             LC_HYPER});
#define LOCAL_KERNELS(X) X(local2d_forward) X(local2d_backward_data) X(local2d_backward_weights)
/* ---------------------------------------------------------------- layernorm.c */
#define ROWSTAT(nm, fl) ARR(nm, K_F32, fl, "m")
KERNEL(layernorm_forward, fam_bn, "layer normalisation of every row of the last axis (gamma, "
       "beta may be None); writes mean and invstd per row.",
       dlc_layernorm_forward(MK, F(6), A(0), A(1), A(2), A(3), A(4), A(5)),
       .p = {IN(x, NULL), CH(gamma, F_OPT), CH(beta, F_OPT), OUT(y, "like x"), ROWSTAT(mean, F_OUT),
             ROWSTAT(invstd, F_OUT), EPS3});
KERNEL(layernorm_backward, fam_bn, "dx, dgamma, dbeta += the gradients (gamma, dx, dgamma, dbeta "
       "may be None).", dlc_layernorm_backward(MK, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7)),
       .p = {IN(x, NULL), IN(dy, "like x"), CH(gamma, F_OPT), ROWSTAT(mean, 0), ROWSTAT(invstd, 0),
             ARR(dx, K_F32, F_OUT | F_OPT, "like x"), CH(dgamma, F_OUT | F_OPT),
             CH(dbeta, F_OUT | F_OPT)});
#define LAYERNORM_KERNELS(X) X(layernorm_forward) X(layernorm_backward)
/* ---------------------------------------------------------------- noise.c */
/* Spatial dropout: the data array (first for forward, second for backward: the family's aux)
 * is (n, ..., c), or (n, c, ...) when channels_first (parameter 3), at least 3-D. */
static int fin_spatial(call *c) {
    const int i = c->k->fam->aux, cf = c->v[3].b;
    PyArrayObject *a = c->arr[i];
    const int nd = PyArray_NDIM(a);
    if (nd < 3) return fail_shape(c, i, "must be at least 3-D (batch, spatial..., channels)");
    S.d[0] = DIM(i, 0), S.d[2] = DIM(i, cf ? 1 : nd - 1), S.d[1] = 1;
    for (int j = 1; j < nd; j++)
        if (j != (cf ? 1 : nd - 1)) S.d[1] *= DIM(i, j); /* no overflow: the array exists */
    return 0;
}
static const family fam_sdrop_fwd = {"=n =hw =c", fin_spatial, 0},
                    fam_sdrop_bwd = {"=n =hw =c", fin_spatial, 1};
#define STDDEV FLT(stddev, 0, NONNEG, F_REQ)
#define CHANNELS_FIRST BOOL(channels_first, 0)
KERNEL(philox_normal, fam_elem, "fills out (any shape) with standard normals (Box-Muller on the "
       "dropout stream).", dlc_philox_normal(N, U(1), U(2), A(0)),
       .p = {OUT(out, NULL), U64(seed), U64(step)});
KERNEL(gaussian_noise_forward, fam_elem, "y = x + stddev * normal, keyed by (seed, step).",
       dlc_gaussian_noise_forward(N, F(2), U(3), U(4), A(0), A(1)),
       .p = {IN(x, NULL), OUT(y, "like x"), STDDEV, U64(seed), U64(step)});
KERNEL(gaussian_dropout_forward, fam_elem, "noise = 1 + stddev * normal, y = x * noise.",
       dlc_gaussian_dropout_forward(N, F(3), U(4), U(5), A(0), A(1), A(2)),
       .p = {IN(x, NULL), OUT(y, "like x"), OUT(noise, "like x"), STDDEV, U64(seed), U64(step)});
KERNEL(gaussian_dropout_backward, fam_elem, "dx += dy * noise.",
       dlc_gaussian_dropout_backward(N, A(0), A(1), A(2)),
       .p = {IN(noise, NULL), IN(dy, "like noise"), OUT(dx, "like noise")});
KERNEL(spatial_dropout_forward, fam_sdrop_fwd, "whole channels dropped per sample: mask (n, c) "
       "uint8 from Philox-4x32-10 keyed by (seed, step), y = x * mask / (1 - rate).",
       dlc_spatial_dropout_forward(S.d[0], S.d[1], S.d[2], B(3), F(4), U(5), U(6), A(0), A(1), A(2)),
       .p = {IN(x, NULL), OUT(y, "like x"), ARR(mask, K_U8, F_OUT, "n, c"), CHANNELS_FIRST, RATE,
             U64(seed), U64(step)});
KERNEL(spatial_dropout_backward, fam_sdrop_bwd, "dx += dy * mask / (1 - rate).",
       dlc_spatial_dropout_backward(S.d[0], S.d[1], S.d[2], B(3), F(4), A(0), A(1), A(2)),
       .p = {ARR(mask, K_U8, 0, "n, c"), IN(dy, NULL), OUT(dx, "like dy"), CHANNELS_FIRST, RATE});
#define NOISE_KERNELS(X)                                                                       \
    X(philox_normal) X(gaussian_noise_forward) X(gaussian_dropout_forward)                      \
    X(gaussian_dropout_backward) X(spatial_dropout_forward) X(spatial_dropout_backward)
#define MORE_KERNELS(X) LOSS_KERNELS(X) LOCAL_KERNELS(X) LAYERNORM_KERNELS(X) NOISE_KERNELS(X) \
                        PERF_KERNELS(X)
/* ---------------------------------------------------------------- runtime.c */
static PyObject *threads_result(call *c UNUSED) { return PyLong_FromLong(dlc_get_num_threads()); }
static PyObject *features_result(call *c UNUSED) {
    dlc_simd_level best = dlc_simd_detect();
    return Py_BuildValue("{s:s,s:s,s:N,s:N}", "simd", dlc_simd_name(dlc_simd_get()), "detected",
                         dlc_simd_name(best), "avx2_fma", PyBool_FromLong(best >= DLC_SIMD_AVX2),
                         "avx512f", PyBool_FromLong(best >= DLC_SIMD_AVX512));
}
KERNEL(set_num_threads, fam_none, "sets the threads every kernel uses.",
       dlc_set_num_threads((int)L(0)),
       .p = {{.name = "n", .kind = K_INT, .lo = 1, .hi = 4096}});
KERNEL(get_num_threads, fam_none, "returns the threads used by every kernel.", DLC_OK,
       .result = threads_result);
KERNEL(cpu_features, fam_none, "returns a dict: the SIMD path in use and what the CPU supports.",
       DLC_OK, .result = features_result);

/* Every function but set_simd, in the module's method order; py_<name> is its entry point. */
#define KERNELS(X)                                                                             \
    X(set_num_threads) X(get_num_threads) X(cpu_features) X(gemm) X(gemm_rows)               \
    X(conv2d_forward) X(conv2d_backward_data) X(conv2d_backward_weights)                       \
    X(maxpool2d_forward) X(maxpool2d_backward) X(avgpool2d_forward) X(avgpool2d_backward)      \
    X(global_maxpool2d_forward) X(global_maxpool2d_backward) X(global_avgpool2d_forward)       \
    X(global_avgpool2d_backward) X(batchnorm_forward_train) X(batchnorm_forward_infer)         \
    X(batchnorm_backward) X(relu_forward) X(relu_backward) X(elu_forward) X(elu_backward)      \
    X(sigmoid_forward) X(sigmoid_backward) X(tanh_forward) X(tanh_backward)                    \
    X(silu_forward) X(silu_backward) X(gelu_forward) X(gelu_backward)                          \
    X(softmax_forward) X(softmax_backward) X(softmax_xent_forward) X(softmax_xent_backward)    \
    X(softmax_xent_sparse_forward) X(softmax_xent_sparse_backward) X(xent_forward)             \
    X(xent_backward) X(bce_forward) X(bce_backward) X(mse_forward) X(mse_backward)             \
    X(dropout_forward) X(dropout_backward) X(philox_uniform) X(philox4x32_10) X(sgd_step)      \
    X(image_warp_forward) X(image_warp_backward) X(image_adjust_forward) X(image_adjust_backward) X(normalize_forward) X(normalize_backward) \
    X(adagrad_step) X(rmsprop_step) X(adam_step) X(adadelta_step)                            \
    MORE_KERNELS(X)
#define ENTRY(nm)                                                                              \
    static PyObject *py_##nm(PyObject *m UNUSED, PyObject *const *a, Py_ssize_t n,              \
                             PyObject *kw) { return run(&nm##_k, a, n, kw); }
KERNELS(ENTRY)

/* ================================================================ import-time preparation */

/* Index of the slot named name[0 .. len) in the family, -1 if none; *derived for '='. */
static int slot_of(const family *f, const char *name, size_t len, int *derived) {
    const char *s = f->slots;
    for (int i = 0; *s; i++) {
        *derived = *s == '=';
        s += *derived;
        size_t l = strcspn(s, " ");
        if (l == len && strncmp(s, name, len) == 0) return i;
        s += l + strspn(s + l, " ");
    }
    return -1;
}

static int param_of(const kernel *k, const char *name) {
    for (int i = 0; k->p[i].name; i++)
        if (strcmp(k->p[i].name, name) == 0) return i;
    return -1;
}

/* Appends to the 1024-byte docstring d. */
static void cat(char *d, const char *fmt, ...) {
    size_t u = strlen(d);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d + u, 1024 - u, fmt, ap);
    va_end(ap);
}

/* The docstring: "name(x, y, *, alpha=1.0, strides=(1, 1)): doc line". */
static int make_doc(kernel *k) {
    char *d = k->docstr = PyMem_RawCalloc(1, 1024), *r;
    if (!d) return PyErr_NoMemory(), -1;
    cat(d, "%s(", k->name);
    for (int i = 0; i < k->np; i++) {
        const param *p = &k->p[i];
        cat(d, "%s%s%s", i ? ", " : "", i == k->npos ? "*, " : "", p->name);
        if (i < k->npos || (p->flags & F_REQ)) continue; /* no default */
        if (p->kind == K_FLT && (r = PyOS_double_to_string(p->def, 'r', 0, Py_DTSF_ADD_DOT_0, 0)))
            cat(d, "=%s", r), PyMem_Free(r);
        if (p->kind == K_FLTN || p->kind == K_BOOL)
            cat(d, "=%s", p->kind == K_FLTN ? "None" : p->def ? "True" : "False");
        if (p->kind == K_INT) cat(d, "=%lld", LL(p->def));
        if (p->kind < K_FLT && (p->flags & F_OPT)) cat(d, "=None"); /* a keyword array */
        for (int j = 0; p->kind == K_INTS && j < p->count; j++)
            cat(d, "%s%lld%s", j ? ", " : "=(", LL(p->def), j + 1 == p->count ? ")" : "");
    }
    cat(d, "): %s", k->doc);
    return 0;
}

/* Resolves a kernel's names (slots, `like`, `when`, eslot), interns its keywords, makes its doc. */
static int prepare(kernel *k) {
    int i, der;
    const char *bad = NULL; /* a name the record gets wrong */
    for (i = 0, k->npos = -1; k->p[i].name; i++) {
        param *p = &k->p[i];
        if (p->kind < K_FLT && k->na++ < i) { bad = p->name; goto fail; } /* arrays first */
        p->nd = p->like = p->need = -1;
        if (!(p->key = PyUnicode_InternFromString(p->name))) return -1;
        if ((p->flags & F_KW) && k->npos < 0) k->npos = i;
        if (p->when && (p->need = param_of(k, p->when)) < 0) { bad = p->when; goto fail; }
        if (p->shape && strncmp(p->shape, "like ", 5) == 0) {
            if ((p->like = param_of(k, p->shape + 5)) < 0) { bad = p->shape; goto fail; }
            snprintf(p->layout, sizeof p->layout, "the shape of '%s'", p->shape + 5);
            continue;
        }
        for (const char *s = p->shape; s && *s; s += strspn(s, ", ")) {
            size_t l = strcspn(s, ", ");
            int j = slot_of(k->fam, s, l, &der);
            if (j < 0 || j >= NSLOT || p->nd == 4) { bad = p->shape; goto fail; }
            p->nd = p->nd < 0 ? 1 : p->nd + 1, p->dim[p->nd - 1] = j, s += l;
            if (!der) p->defmask |= 1u << (p->nd - 1);
        }
        if (p->shape) snprintf(p->layout, sizeof p->layout, p->nd > 1 ? "(%s)" : "(%s,)", p->shape);
        if (p->kind == K_INTS && p->shape && p->nd != p->count) { bad = p->shape; goto fail; }
    }
    k->np = i, k->npos = k->npos < 0 ? i : k->npos;
    if (k->eslot && (k->eidx = slot_of(k->fam, k->eslot, strlen(k->eslot), &der)) < 0)
        { bad = k->eslot; goto fail; }
    return make_doc(k);
fail:
    return PyErr_Format(PyExc_SystemError, "dlc._C: %s: bad name '%s'", k->name, bad), -1;
}

/* ================================================================ module */

static PyObject *py_set_simd(PyObject *self UNUSED, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s:set_simd", &name)) return NULL;
    for (int lv = DLC_SIMD_GENERIC; lv <= DLC_SIMD_AVX512; lv++) {
        if (strcmp(name, dlc_simd_name((dlc_simd_level)lv)) != 0) continue;
        if (dlc_simd_set((dlc_simd_level)lv) == DLC_OK) Py_RETURN_NONE;
        return PyErr_Format(PyExc_ValueError, "set_simd: this CPU supports up to '%s', received "
                            "'%s'", dlc_simd_name(dlc_simd_detect()), name);
    }
    return PyErr_Format(PyExc_ValueError, "set_simd: argument 'level' must be 'generic', 'avx2' "
                        "or 'avx512', received '%s'", name);
}

#define METHOD(nm) {#nm, (PyCFunction)(void (*)(void))py_##nm, METH_FASTCALL | METH_KEYWORDS, NULL},
#define RECORD(nm) &nm##_k,

static PyMethodDef methods[] = {
    KERNELS(METHOD){"set_simd", py_set_simd, METH_VARARGS,
                    "set_simd(level): force 'generic', 'avx2' or 'avx512' (tests, benchmarks)."},
    {"plan_begin", py_plan_begin, METH_NOARGS,
     "plan_begin(): record the kernel calls this thread makes from now on into a plan."},
    {"plan_end", py_plan_end, METH_NOARGS,
     "plan_end(): stop recording; returns the plan (a capsule) for plan_run."},
    {"plan_run", py_plan_run, METH_O,
     "plan_run(plan): replay the recorded kernel calls on their arrays, the GIL released once."},
    {"plan_steps", py_plan_steps, METH_O, "plan_steps(plan): the kernels of a plan, in order."},
    {NULL, NULL, 0, NULL}};
static kernel *const kernels[] = {KERNELS(RECORD)};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "dlc._C",
                                       "dlc's C kernels (float32, NHWC, zero copy).", -1,
                                       methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__C(void) {
    import_array();
    static int ready = 0;
    for (size_t i = 0; !ready && i < sizeof kernels / sizeof *kernels; i++) {
        if (prepare(kernels[i])) return NULL;
        methods[i].ml_doc = kernels[i]->docstr;
    }
    ready = 1;
    return PyModule_Create(&moduledef);
}
