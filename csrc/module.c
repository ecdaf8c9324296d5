/* module.c - the ONLY binding file: dlc's C kernels as the extension module dlc._C.
 *
 * Every wrapper does the same five things (DESIGN.md section 3):
 *   1. parse the arguments (arrays positionally, hyperparameters by keyword);
 *   2. validate every array with arg_array(): an ndarray of the right dtype, C-contiguous,
 *      aligned, writeable when it is an output; refuse anything else with a TypeError /
 *      ValueError naming the argument, the expected and the received; never copy;
 *   3. derive the kernel's shape struct from the input arrays and check every other array's
 *      shape against it (expect_shape), and outputs against inputs for overlap (expect_disjoint),
 *      so no Python bug can make a kernel write out of bounds;
 *   4. release the GIL around the kernel call only (the argument tuple keeps the arrays alive);
 *   5. map the status: DLC_EINVAL -> ValueError, DLC_ENOMEM -> MemoryError.
 * Arrays arrive as borrowed references from the argument tuple, so there is nothing to DECREF
 * except the workspace, which is freed at the single cleanup point of each wrapper.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc.h"

/* ================================================================ infrastructure */

#define MAXDIM 8
/* Helpers some families use and others do not. */
#define MAYBE_UNUSED __attribute__((unused))

/* Format a shape as "(2, 3)" into buf. */
static void fmt_shape(char *buf, size_t size, int ndim, const npy_intp *dims) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, size - used, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)dims[i]);
    if (used < size) used += (size_t)snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
}

static const char *typenum_name(int typenum) {
    switch (typenum) {
    case NPY_FLOAT32: return "float32";
    case NPY_INT32: return "int32";
    case NPY_UINT8: return "uint8";
    default: return "?";
    }
}

/* obj as an array of typenum, C-contiguous and aligned (and writeable if writeable != 0).
 * Returns a borrowed reference, or NULL with TypeError / ValueError set.
 * fn names the function and name the argument, for the message. */
static PyArrayObject *arg_array(const char *fn, PyObject *obj, const char *name, int typenum,
                                int writeable) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: argument '%s' must be a numpy.ndarray of %s, received %s", fn, name,
                     typenum_name(typenum), Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != typenum) {
        PyErr_Format(PyExc_TypeError, "%s: argument '%s' must have dtype %s, received %S", fn,
                     name, typenum_name(typenum), (PyObject *)PyArray_DESCR(a));
        return NULL;
    }
    if (!PyArray_ISNOTSWAPPED(a)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: argument '%s' must be in native byte order, received a byte-swapped "
                     "array",
                     fn, name);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' must be C-contiguous, received a strided view "
                     "(use numpy.ascontiguousarray)",
                     fn, name);
        return NULL;
    }
    if (!PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' must be aligned to its dtype, received an unaligned "
                     "array",
                     fn, name);
        return NULL;
    }
    if (writeable && !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' is an output and must be writeable, received a "
                     "read-only array",
                     fn, name);
        return NULL;
    }
    return a;
}

/* Like arg_array, but None gives NULL without an error; *err is set to 1 on error. */
MAYBE_UNUSED static PyArrayObject *arg_array_opt(const char *fn, PyObject *obj, const char *name,
                                    int typenum, int writeable, int *err) {
    if (obj == NULL || obj == Py_None) return NULL;
    PyArrayObject *a = arg_array(fn, obj, name, typenum, writeable);
    if (a == NULL) *err = 1;
    return a;
}

/* 0 if a has exactly the given shape, else -1 with ValueError naming expected and received. */
static int expect_shape(const char *fn, PyArrayObject *a, const char *name, int ndim,
                        const int64_t *dims) {
    int ok = PyArray_NDIM(a) == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = PyArray_DIM(a, i) == dims[i];
    if (ok) return 0;
    char want[256], got[256];
    npy_intp wd[MAXDIM];
    for (int i = 0; i < ndim && i < MAXDIM; i++) wd[i] = (npy_intp)dims[i];
    fmt_shape(want, sizeof want, ndim < MAXDIM ? ndim : MAXDIM, wd);
    fmt_shape(got, sizeof got, PyArray_NDIM(a), PyArray_DIMS(a));
    PyErr_Format(PyExc_ValueError, "%s: argument '%s' must have shape %s, received %s", fn,
                 name, want, got);
    return -1;
}
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* 0 if a has the given number of dimensions, else -1 with ValueError. */
MAYBE_UNUSED static int expect_ndim(const char *fn, PyArrayObject *a, const char *name, int ndim,
                       const char *layout) {
    if (PyArray_NDIM(a) == ndim) return 0;
    char got[256];
    fmt_shape(got, sizeof got, PyArray_NDIM(a), PyArray_DIMS(a));
    PyErr_Format(PyExc_ValueError, "%s: argument '%s' must be %d-D %s, received shape %s", fn,
                 name, ndim, layout, got);
    return -1;
}

/* 0 if b has the same shape as a, else -1 with ValueError. */
MAYBE_UNUSED static int expect_same_shape(const char *fn, PyArrayObject *b, const char *bname,
                             PyArrayObject *a) {
    int64_t dims[MAXDIM];
    int nd = PyArray_NDIM(a);
    if (nd > MAXDIM) {
        PyErr_Format(PyExc_ValueError, "%s: arrays of more than %d dimensions are not supported",
                     fn, MAXDIM);
        return -1;
    }
    for (int i = 0; i < nd; i++) dims[i] = PyArray_DIM(a, i);
    return expect_shape(fn, b, bname, nd, dims);
}

/* 0 if the memory of out and in does not overlap, else -1 with ValueError.
 * Outputs that alias an input would be read after being written. */
static int expect_disjoint(const char *fn, PyArrayObject *out, const char *oname,
                           PyArrayObject *in, const char *iname) {
    if (out == NULL || in == NULL) return 0;
    const char *o0 = PyArray_BYTES(out), *o1 = o0 + PyArray_NBYTES(out);
    const char *i0 = PyArray_BYTES(in), *i1 = i0 + PyArray_NBYTES(in);
    if (o1 <= i0 || i1 <= o0 || PyArray_NBYTES(out) == 0 || PyArray_NBYTES(in) == 0) return 0;
    PyErr_Format(PyExc_ValueError,
                 "%s: output '%s' must not share memory with argument '%s', received "
                 "overlapping arrays",
                 fn, oname, iname);
    return -1;
}

/* Product of all dimensions. */
MAYBE_UNUSED static int64_t numel(PyArrayObject *a) { return (int64_t)PyArray_SIZE(a); }

/* A workspace for one kernel call: 64-byte aligned, NULL for 0 bytes.
 * Returns 0, or -1 with MemoryError set. */
static int ws_alloc(size_t bytes, void **out) {
    *out = NULL;
    if (bytes == 0) return 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0 || p == NULL) {
        PyErr_Format(PyExc_MemoryError, "dlc: could not allocate a %zu-byte workspace", bytes);
        return -1;
    }
    *out = p;
    return 0;
}

/* None on DLC_OK, else NULL with the mapped exception. */
static PyObject *status_result(const char *fn, dlc_status st) {
    switch (st) {
    case DLC_OK: Py_RETURN_NONE;
    case DLC_ENOMEM:
        PyErr_Format(PyExc_MemoryError, "%s: workspace missing or too small", fn);
        return NULL;
    case DLC_EINVAL:
    default:
        PyErr_Format(PyExc_ValueError,
                     "%s: invalid arguments (a size, hyperparameter or label is out of range)",
                     fn);
        return NULL;
    }
}

/* Parse a pair of positive ints given as a tuple (a, b); name is for the message. */
MAYBE_UNUSED static int parse_pair(const char *fn, PyObject *obj, const char *name, int64_t *a, int64_t *b,
                      int64_t min) {
    long long x, y;
    if (!PyTuple_Check(obj) || !PyArg_ParseTuple(obj, "LL", &x, &y)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: argument '%s' must be a tuple of 2 ints, received %R",
                     fn, name, obj);
        return -1;
    }
    if (x < min || y < min) {
        PyErr_Format(PyExc_ValueError, "%s: argument '%s' must be >= %lld, received %R", fn,
                     name, (long long)min, obj);
        return -1;
    }
    *a = x, *b = y;
    return 0;
}

/* Parse explicit padding (top, bottom, left, right), each >= 0. */
MAYBE_UNUSED static int parse_padding(const char *fn, PyObject *obj, int64_t pad[4]) {
    long long p[4];
    if (!PyTuple_Check(obj) || !PyArg_ParseTuple(obj, "LLLL", &p[0], &p[1], &p[2], &p[3])) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "%s: argument 'padding' must be a tuple of 4 ints (top, bottom, left, "
                     "right), received %R",
                     fn, obj);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (p[i] < 0) {
            PyErr_Format(PyExc_ValueError, "%s: argument 'padding' must be >= 0, received %R",
                         fn, obj);
            return -1;
        }
        pad[i] = p[i];
    }
    return 0;
}

/* ================================================================ runtime */

static PyObject *py_set_num_threads(PyObject *self, PyObject *args) {
    (void)self;
    int n;
    if (!PyArg_ParseTuple(args, "i:set_num_threads", &n)) return NULL;
    if (dlc_set_num_threads(n) != DLC_OK) {
        PyErr_Format(PyExc_ValueError,
                     "set_num_threads: argument 'n' must be between 1 and 4096, received %d", n);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *args) {
    (void)self, (void)args;
    return PyLong_FromLong(dlc_get_num_threads());
}

static PyObject *py_cpu_features(PyObject *self, PyObject *args) {
    (void)self, (void)args;
    dlc_simd_level used = dlc_simd_get(), best = dlc_simd_detect();
    return Py_BuildValue("{s:s,s:s,s:O,s:O}", "simd", dlc_simd_name(used), "detected",
                         dlc_simd_name(best), "avx2_fma", best >= DLC_SIMD_AVX2 ? Py_True : Py_False,
                         "avx512f", best >= DLC_SIMD_AVX512 ? Py_True : Py_False);
}

static PyObject *py_set_simd(PyObject *self, PyObject *args) {
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s:set_simd", &name)) return NULL;
    for (int lv = DLC_SIMD_GENERIC; lv <= DLC_SIMD_AVX512; lv++) {
        if (strcmp(name, dlc_simd_name((dlc_simd_level)lv)) != 0) continue;
        if (dlc_simd_set((dlc_simd_level)lv) != DLC_OK) {
            PyErr_Format(PyExc_ValueError,
                         "set_simd: this CPU supports up to '%s', received '%s'",
                         dlc_simd_name(dlc_simd_detect()), name);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyErr_Format(PyExc_ValueError,
                 "set_simd: argument 'level' must be 'generic', 'avx2' or 'avx512', received '%s'",
                 name);
    return NULL;
}

/* ================================================================ gemm */

#include "internal.h" /* dlc_sgemm_serial: the single-threaded entry conv2d uses */

/* gemm(a, b, c, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, reference=False,
 *      serial=False): c = alpha * op(a) @ op(b) + beta * c, all 2-D float32.
 * reference=True runs the naive dlc_sgemm_ref, serial=True the single-threaded
 * dlc_sgemm_serial that conv2d uses (both for tests and benchmarks). */
static PyObject *py_gemm(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "gemm";
    static char *kwlist[] = {"a", "b", "c", "trans_a", "trans_b", "alpha", "beta", "reference",
                             "serial", NULL};
    PyObject *oa, *ob, *oc;
    int ta = 0, tb = 0, ref = 0, serial = 0;
    float alpha = 1.0f, beta = 0.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$ppffpp:gemm", kwlist, &oa, &ob, &oc, &ta,
                                     &tb, &alpha, &beta, &ref, &serial))
        return NULL;
    if (ref && serial) {
        PyErr_Format(PyExc_ValueError,
                     "%s: arguments 'reference' and 'serial' are exclusive, received both True",
                     fn);
        return NULL;
    }
    PyArrayObject *a = arg_array(fn, oa, "a", NPY_FLOAT32, 0);
    PyArrayObject *b = a ? arg_array(fn, ob, "b", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *c = b ? arg_array(fn, oc, "c", NPY_FLOAT32, 1) : NULL;
    if (!c || expect_ndim(fn, a, "a", 2, "matrix") || expect_ndim(fn, b, "b", 2, "matrix") ||
        expect_ndim(fn, c, "c", 2, "matrix"))
        return NULL;
    int64_t m = PyArray_DIM(a, ta ? 1 : 0), k = PyArray_DIM(a, ta ? 0 : 1);
    int64_t n = PyArray_DIM(b, tb ? 0 : 1);
    if (expect_shape(fn, b, "b", 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n}) ||
        expect_shape(fn, c, "c", SHAPE(m, n)) || expect_disjoint(fn, c, "c", a, "a") ||
        expect_disjoint(fn, c, "c", b, "b"))
        return NULL;
    const float *pa = PyArray_DATA(a), *pb = PyArray_DATA(b);
    float *pc = PyArray_DATA(c);
    int64_t lda = PyArray_DIM(a, 1), ldb = PyArray_DIM(b, 1), ldc = n;
    if (lda == 0) lda = 1;
    if (ldb == 0) ldb = 1;
    if (ldc == 0) ldc = 1;
    dlc_status st;
    void *ws = NULL;
    size_t wsz = ref      ? 0
                 : serial ? dlc_sgemm_serial_workspace_size(m, n, k)
                          : dlc_sgemm_workspace_size(m, n, k);
    if (ws_alloc(wsz, &ws)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (ref)
        st = dlc_sgemm_ref(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    else if (serial)
        st = dlc_sgemm_serial(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, ws, wsz);
    else
        st = dlc_sgemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}

/* ==== BEGIN conv2d bindings ==== */
/* ==== END conv2d bindings ==== */

/* ==== BEGIN pool2d bindings ==== */
/* ==== END pool2d bindings ==== */

/* ==== BEGIN batchnorm bindings ==== */
/* ==== END batchnorm bindings ==== */

/* ==== BEGIN activations bindings ==== */
/* ==== END activations bindings ==== */

/* ==== BEGIN softmax_xent bindings ==== */
/* ==== END softmax_xent bindings ==== */

/* ==== BEGIN dropout bindings ==== */
/* ==== END dropout bindings ==== */

/* ==== BEGIN optim bindings ==== */
/* ==== END optim bindings ==== */

/* ================================================================ module */

#define KW(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, METH_VARARGS | METH_KEYWORDS, doc}

static PyMethodDef methods[] = {
    {"set_num_threads", py_set_num_threads, METH_VARARGS,
     "set_num_threads(n): threads used by every kernel."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS,
     "get_num_threads() -> int: threads used by every kernel."},
    {"cpu_features", py_cpu_features, METH_NOARGS,
     "cpu_features() -> dict: the SIMD path in use and what the CPU supports."},
    {"set_simd", py_set_simd, METH_VARARGS,
     "set_simd(level): force 'generic', 'avx2' or 'avx512' (for tests and benchmarks)."},
    KW(gemm, "gemm(a, b, c, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, "
             "reference=False, serial=False): c = alpha * op(a) @ op(b) + beta * c."),
    /* ---- BEGIN conv2d methods ---- */
    /* ---- END conv2d methods ---- */
    /* ---- BEGIN pool2d methods ---- */
    /* ---- END pool2d methods ---- */
    /* ---- BEGIN batchnorm methods ---- */
    /* ---- END batchnorm methods ---- */
    /* ---- BEGIN activations methods ---- */
    /* ---- END activations methods ---- */
    /* ---- BEGIN softmax_xent methods ---- */
    /* ---- END softmax_xent methods ---- */
    /* ---- BEGIN dropout methods ---- */
    /* ---- END dropout methods ---- */
    /* ---- BEGIN optim methods ---- */
    /* ---- END optim methods ---- */
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "dlc._C",
                                       "dlc's C kernels (float32, NHWC, zero copy).", -1,
                                       methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__C(void) {
    import_array();
    return PyModule_Create(&moduledef);
}
