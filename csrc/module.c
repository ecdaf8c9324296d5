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

/* gemm_rows(a, arow, b, c, *, kseg=0, sstride=0, trans_b=False, alpha=1.0, beta=0.0): the
 * internal dlc_sgemm_serial_rows (for tests). a is 1-D; row i of the m x k matrix A is the
 * k / kseg runs a[arow[i] + s * sstride : ... + kseg] one after another (int64 arow of length
 * m = c.shape[0]; kseg 0 means k: one run); k and n from b. */
static PyObject *py_gemm_rows(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "gemm_rows";
    static char *kwlist[] = {"a", "arow", "b", "c", "kseg", "sstride", "trans_b", "alpha", "beta",
                             NULL};
    PyObject *oa, *or, *ob, *oc;
    int tb = 0;
    long long kseg = 0, sstride = 0;
    float alpha = 1.0f, beta = 0.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|$LLpff:gemm_rows", kwlist, &oa, &or, &ob,
                                     &oc, &kseg, &sstride, &tb, &alpha, &beta))
        return NULL;
    if (PyArray_Check(or) && PyArray_TYPE((PyArrayObject *)or) != NPY_INT64) {
        PyErr_Format(PyExc_TypeError, "%s: argument 'arow' must have dtype int64, received %S",
                     fn, (PyObject *)PyArray_DESCR((PyArrayObject *)or));
        return NULL;
    }
    PyArrayObject *a = arg_array(fn, oa, "a", NPY_FLOAT32, 0);
    PyArrayObject *r = a ? arg_array(fn, or, "arow", NPY_INT64, 0) : NULL;
    PyArrayObject *b = r ? arg_array(fn, ob, "b", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *c = b ? arg_array(fn, oc, "c", NPY_FLOAT32, 1) : NULL;
    if (!c || expect_ndim(fn, a, "a", 1, "vector") || expect_ndim(fn, b, "b", 2, "matrix") ||
        expect_ndim(fn, c, "c", 2, "matrix"))
        return NULL;
    int64_t m = PyArray_DIM(c, 0), n = PyArray_DIM(c, 1);
    int64_t k = PyArray_DIM(b, tb ? 1 : 0);
    if (expect_shape(fn, r, "arow", SHAPE(m)) ||
        expect_shape(fn, b, "b", 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n}) ||
        expect_disjoint(fn, c, "c", a, "a") || expect_disjoint(fn, c, "c", b, "b") ||
        expect_disjoint(fn, c, "c", r, "arow"))
        return NULL;
    if (kseg == 0) kseg = k > 0 ? k : 1;
    if (kseg < 1 || (k > 0 && k % kseg != 0)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'kseg' must be a positive divisor of k = %lld, received %lld",
                     fn, (long long)k, kseg);
        return NULL;
    }
    if (sstride < 0 || sstride > numel(a)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'sstride' must be in [0, a.size] = [0, %lld], received %lld",
                     fn, (long long)numel(a), sstride);
        return NULL;
    }
    /* The last element of row i is at arow[i] + span - 1. */
    int64_t span = 0;
    if (k > 0 && (__builtin_mul_overflow(k / kseg - 1, (int64_t)sstride, &span) ||
                  __builtin_add_overflow(span, (int64_t)kseg, &span))) {
        PyErr_Format(PyExc_ValueError, "%s: argument 'sstride' = %lld makes a row span overflow",
                     fn, sstride);
        return NULL;
    }
    const int64_t *pr = PyArray_DATA(r);
    for (int64_t i = 0; i < m; i++)
        if (pr[i] < 0 || pr[i] > numel(a) - span) {
            PyErr_Format(PyExc_ValueError,
                         "%s: argument 'arow' must hold offsets in [0, a.size - %lld] = [0, %lld] "
                         "(a row spans %lld floats), received %lld at index %lld",
                         fn, (long long)span, (long long)(numel(a) - span), (long long)span,
                         (long long)pr[i], (long long)i);
            return NULL;
        }
    int64_t ldb = PyArray_DIM(b, 1), ldc = n;
    if (ldb == 0) ldb = 1;
    if (ldc == 0) ldc = 1;
    dlc_status st;
    void *ws = NULL;
    size_t wsz = dlc_sgemm_serial_workspace_size(m, n, k);
    if (ws_alloc(wsz, &ws)) return NULL;
    const float *pa = PyArray_DATA(a), *pb = PyArray_DATA(b);
    float *pc = PyArray_DATA(c);
    Py_BEGIN_ALLOW_THREADS
    st = dlc_sgemm_serial_rows(tb, m, n, k, alpha, pa, pr, kseg, sstride, pb, ldb, beta, pc, ldc,
                               ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}

/* ==== BEGIN conv2d bindings ==== */
/* Fill a conv2d shape from the input dims (n, h, w, c), the kernel dims (kh, kw, cg, oc) and
 * the keyword hyperparameters; oh / ow from the struct formula. 0, or -1 with an exception. */
static int conv2d_shape_from(const char *fn, int64_t n, int64_t h, int64_t w, int64_t c,
                             int64_t kh, int64_t kw, int64_t cg, int64_t oc, PyObject *strides,
                             PyObject *dilation, PyObject *padding, long long groups,
                             const char *wname, dlc_conv2d_shape *s) {
    memset(s, 0, sizeof *s);
    if ((strides && parse_pair(fn, strides, "strides", &s->sh, &s->sw, 1)) ||
        (dilation && parse_pair(fn, dilation, "dilation", &s->dh, &s->dw, 1)))
        return -1;
    if (!strides) s->sh = s->sw = 1;
    if (!dilation) s->dh = s->dw = 1;
    int64_t pad[4] = {0, 0, 0, 0};
    if (padding && parse_padding(fn, padding, pad)) return -1;
    if (groups < 1) {
        PyErr_Format(PyExc_ValueError, "%s: argument 'groups' must be >= 1, received %lld", fn,
                     groups);
        return -1;
    }
    if (n < 1 || h < 1 || w < 1 || c < 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s: every input dimension (n, h, w, c) must be positive, received "
                     "(%lld, %lld, %lld, %lld)",
                     fn, (long long)n, (long long)h, (long long)w, (long long)c);
        return -1;
    }
    if (kh < 1 || kw < 1 || cg < 1 || oc < 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s: every dimension of '%s' (kh, kw, c/groups, oc) must be positive, "
                     "received (%lld, %lld, %lld, %lld)",
                     fn, wname, (long long)kh, (long long)kw, (long long)cg, (long long)oc);
        return -1;
    }
    if (c % groups != 0 || oc % groups != 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s: input channels (%lld) and output channels (%lld) must be divisible "
                     "by groups, received groups=%lld",
                     fn, (long long)c, (long long)oc, groups);
        return -1;
    }
    if (cg * groups != c) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' must have c/groups = %lld input channels (axis 2), "
                     "received %lld",
                     fn, wname, (long long)(c / groups), (long long)cg);
        return -1;
    }
    s->n = n, s->h = h, s->w = w, s->c = c, s->kh = kh, s->kw = kw, s->oc = oc;
    s->pad_top = pad[0], s->pad_bottom = pad[1], s->pad_left = pad[2], s->pad_right = pad[3];
    s->groups = groups;
    int64_t eh = h + pad[0] + pad[1] - s->dh * (kh - 1) - 1;
    int64_t ew = w + pad[2] + pad[3] - s->dw * (kw - 1) - 1;
    if (eh < 0 || ew < 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the dilated kernel (%lld x %lld) must fit in the padded input "
                     "(%lld x %lld), received a larger kernel (output would be empty)",
                     fn, (long long)(s->dh * (kh - 1) + 1), (long long)(s->dw * (kw - 1) + 1),
                     (long long)(h + pad[0] + pad[1]), (long long)(w + pad[2] + pad[3]));
        return -1;
    }
    s->oh = eh / s->sh + 1, s->ow = ew / s->sw + 1;
    if (dlc_conv2d_check(s) != DLC_OK) {
        PyErr_Format(PyExc_ValueError, "%s: sizes out of range (too large)", fn);
        return -1;
    }
    return 0;
}

#define CONV2D_KWLIST "strides", "dilation", "padding", "groups", NULL

/* conv2d_forward(x, w, b, y, *, strides=(1,1), dilation=(1,1), padding=(0,0,0,0), groups=1):
 * y = conv(x, w) + b. x (n,h,w,c), w (kh,kw,c/groups,oc), b (oc,) or None, y (n,oh,ow,oc). */
static PyObject *py_conv2d_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "conv2d_forward";
    static char *kwlist[] = {"x", "w", "b", "y", CONV2D_KWLIST};
    PyObject *ox, *ow, *ob, *oy, *ostr = NULL, *odil = NULL, *opad = NULL;
    long long groups = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|$OOOL:conv2d_forward", kwlist, &ox, &ow,
                                     &ob, &oy, &ostr, &odil, &opad, &groups))
        return NULL;
    int err = 0;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *w = x ? arg_array(fn, ow, "w", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *b = w ? arg_array_opt(fn, ob, "b", NPY_FLOAT32, 0, &err) : NULL;
    PyArrayObject *y = (w && !err) ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    if (!y || expect_ndim(fn, x, "x", 4, "NHWC (n, h, w, c)") ||
        expect_ndim(fn, w, "w", 4, "kernel (kh, kw, c/groups, oc)"))
        return NULL;
    dlc_conv2d_shape s;
    if (conv2d_shape_from(fn, PyArray_DIM(x, 0), PyArray_DIM(x, 1), PyArray_DIM(x, 2),
                          PyArray_DIM(x, 3), PyArray_DIM(w, 0), PyArray_DIM(w, 1),
                          PyArray_DIM(w, 2), PyArray_DIM(w, 3), ostr, odil, opad, groups, "w",
                          &s))
        return NULL;
    if ((b && expect_shape(fn, b, "b", SHAPE(s.oc))) ||
        expect_shape(fn, y, "y", SHAPE(s.n, s.oh, s.ow, s.oc)) ||
        expect_disjoint(fn, y, "y", x, "x") || expect_disjoint(fn, y, "y", w, "w") ||
        expect_disjoint(fn, y, "y", b, "b"))
        return NULL;
    const float *px = PyArray_DATA(x), *pw = PyArray_DATA(w);
    const float *pb = b ? PyArray_DATA(b) : NULL;
    float *py = PyArray_DATA(y);
    void *ws = NULL;
    size_t wsz = dlc_conv2d_workspace_size(&s);
    if (ws_alloc(wsz, &ws)) return NULL;
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_conv2d_forward(&s, px, pw, pb, py, ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}

/* conv2d_backward_data(dy, w, dx, *, strides, dilation, padding, groups): dx += conv^T(dy, w).
 * dx (n,h,w,c) gives the input dimensions. */
static PyObject *py_conv2d_backward_data(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "conv2d_backward_data";
    static char *kwlist[] = {"dy", "w", "dx", CONV2D_KWLIST};
    PyObject *ody, *ow, *odx, *ostr = NULL, *odil = NULL, *opad = NULL;
    long long groups = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$OOOL:conv2d_backward_data", kwlist, &ody,
                                     &ow, &odx, &ostr, &odil, &opad, &groups))
        return NULL;
    PyArrayObject *dy = arg_array(fn, ody, "dy", NPY_FLOAT32, 0);
    PyArrayObject *w = dy ? arg_array(fn, ow, "w", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = w ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (!dx || expect_ndim(fn, dx, "dx", 4, "NHWC (n, h, w, c)") ||
        expect_ndim(fn, w, "w", 4, "kernel (kh, kw, c/groups, oc)"))
        return NULL;
    dlc_conv2d_shape s;
    if (conv2d_shape_from(fn, PyArray_DIM(dx, 0), PyArray_DIM(dx, 1), PyArray_DIM(dx, 2),
                          PyArray_DIM(dx, 3), PyArray_DIM(w, 0), PyArray_DIM(w, 1),
                          PyArray_DIM(w, 2), PyArray_DIM(w, 3), ostr, odil, opad, groups, "w",
                          &s))
        return NULL;
    if (expect_shape(fn, dy, "dy", SHAPE(s.n, s.oh, s.ow, s.oc)) ||
        expect_disjoint(fn, dx, "dx", dy, "dy") || expect_disjoint(fn, dx, "dx", w, "w"))
        return NULL;
    const float *pdy = PyArray_DATA(dy), *pw = PyArray_DATA(w);
    float *pdx = PyArray_DATA(dx);
    void *ws = NULL;
    size_t wsz = dlc_conv2d_workspace_size(&s);
    if (ws_alloc(wsz, &ws)) return NULL;
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_conv2d_backward_data(&s, pdy, pw, pdx, ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}

/* conv2d_backward_weights(x, dy, dw, db, *, strides, dilation, padding, groups):
 * dw += correlation of x and dy, db += sum of dy (db may be None). dw gives the kernel dims. */
static PyObject *py_conv2d_backward_weights(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "conv2d_backward_weights";
    static char *kwlist[] = {"x", "dy", "dw", "db", CONV2D_KWLIST};
    PyObject *ox, *ody, *odw, *odb, *ostr = NULL, *odil = NULL, *opad = NULL;
    long long groups = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|$OOOL:conv2d_backward_weights", kwlist,
                                     &ox, &ody, &odw, &odb, &ostr, &odil, &opad, &groups))
        return NULL;
    int err = 0;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *dy = x ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dw = dy ? arg_array(fn, odw, "dw", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *db = dw ? arg_array_opt(fn, odb, "db", NPY_FLOAT32, 1, &err) : NULL;
    if (!dw || err || expect_ndim(fn, x, "x", 4, "NHWC (n, h, w, c)") ||
        expect_ndim(fn, dw, "dw", 4, "kernel (kh, kw, c/groups, oc)"))
        return NULL;
    dlc_conv2d_shape s;
    if (conv2d_shape_from(fn, PyArray_DIM(x, 0), PyArray_DIM(x, 1), PyArray_DIM(x, 2),
                          PyArray_DIM(x, 3), PyArray_DIM(dw, 0), PyArray_DIM(dw, 1),
                          PyArray_DIM(dw, 2), PyArray_DIM(dw, 3), ostr, odil, opad, groups,
                          "dw", &s))
        return NULL;
    if (expect_shape(fn, dy, "dy", SHAPE(s.n, s.oh, s.ow, s.oc)) ||
        (db && expect_shape(fn, db, "db", SHAPE(s.oc))) ||
        expect_disjoint(fn, dw, "dw", x, "x") || expect_disjoint(fn, dw, "dw", dy, "dy") ||
        expect_disjoint(fn, dw, "dw", db, "db") || expect_disjoint(fn, db, "db", x, "x") ||
        expect_disjoint(fn, db, "db", dy, "dy"))
        return NULL;
    const float *px = PyArray_DATA(x), *pdy = PyArray_DATA(dy);
    float *pdw = PyArray_DATA(dw), *pdb = db ? PyArray_DATA(db) : NULL;
    void *ws = NULL;
    size_t wsz = dlc_conv2d_workspace_size(&s);
    if (ws_alloc(wsz, &ws)) return NULL;
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_conv2d_backward_weights(&s, px, pdy, pdw, pdb, ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}
/* ==== END conv2d bindings ==== */

/* ==== BEGIN pool2d bindings ==== */
/* Shared by the pooling wrappers: pool_size / strides / padding keywords, defaulting to
 * (2, 2), (2, 2) and (0, 0, 0, 0). */
#define POOL_KWARGS "|$OOO"

/* The pool shape for input dims (n, h, w, c) and the hyperparameter objects (NULL: default).
 * Returns 0, or -1 with TypeError / ValueError naming the argument. */
static int pool_shape_from(const char *fn, const int64_t in[4], PyObject *opool,
                           PyObject *ostrides, PyObject *opad, dlc_pool2d_shape *s) {
    memset(s, 0, sizeof *s);
    s->n = in[0], s->h = in[1], s->w = in[2], s->c = in[3];
    s->ph = s->pw = s->sh = s->sw = 2;
    int64_t pad[4] = {0, 0, 0, 0};
    if (opool && parse_pair(fn, opool, "pool_size", &s->ph, &s->pw, 1)) return -1;
    if (ostrides && parse_pair(fn, ostrides, "strides", &s->sh, &s->sw, 1)) return -1;
    if (opad && parse_padding(fn, opad, pad)) return -1;
    s->pad_top = pad[0], s->pad_bottom = pad[1], s->pad_left = pad[2], s->pad_right = pad[3];
    if (s->ph > INT32_MAX || s->pw > INT32_MAX || s->sh > INT32_MAX || s->sw > INT32_MAX) {
        PyErr_Format(PyExc_ValueError,
                     "%s: pool_size and strides must be below 2**31, received (%lld, %lld) and "
                     "(%lld, %lld)", fn, (long long)s->ph, (long long)s->pw,
                     (long long)s->sh, (long long)s->sw);
        return -1;
    }
    if (s->n <= 0 || s->h <= 0 || s->w <= 0 || s->c <= 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the input (n, h, w, c) must have positive sizes, received (%lld, %lld, "
                     "%lld, %lld)", fn, (long long)s->n, (long long)s->h, (long long)s->w,
                     (long long)s->c);
        return -1;
    }
    if (s->h * s->w > INT32_MAX) {
        PyErr_Format(PyExc_ValueError,
                     "%s: h * w must fit an int32 argmax, received h = %lld, w = %lld", fn,
                     (long long)s->h, (long long)s->w);
        return -1;
    }
    if (pad[0] >= s->ph || pad[1] >= s->ph || pad[2] >= s->pw || pad[3] >= s->pw) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'padding' must be smaller than pool_size (%lld, %lld) on "
                     "each side, received (%lld, %lld, %lld, %lld)", fn, (long long)s->ph,
                     (long long)s->pw, (long long)pad[0], (long long)pad[1], (long long)pad[2],
                     (long long)pad[3]);
        return -1;
    }
    int64_t hp = s->h + pad[0] + pad[1], wp = s->w + pad[2] + pad[3];
    if (hp < s->ph || wp < s->pw) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'pool_size' (%lld, %lld) must fit the padded input "
                     "(%lld, %lld)", fn, (long long)s->ph, (long long)s->pw, (long long)hp,
                     (long long)wp);
        return -1;
    }
    s->oh = (hp - s->ph) / s->sh + 1;
    s->ow = (wp - s->pw) / s->sw + 1;
    return 0;
}

/* The dims of a 4-D (n, h, w, c) array into d, or -1 with ValueError. */
static int pool_dims4(const char *fn, PyArrayObject *a, const char *name, int64_t d[4]) {
    if (expect_ndim(fn, a, name, 4, "(n, h, w, c)")) return -1;
    for (int i = 0; i < 4; i++) d[i] = PyArray_DIM(a, i);
    return 0;
}

/* maxpool2d_forward(x, y, argmax, *, pool_size=(2, 2), strides=(2, 2), padding=(0, 0, 0, 0)) */
static PyObject *py_maxpool2d_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "maxpool2d_forward";
    static char *kwlist[] = {"x", "y", "argmax", "pool_size", "strides", "padding", NULL};
    PyObject *ox, *oy, *oa, *opool = NULL, *ostr = NULL, *opad = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO" POOL_KWARGS ":maxpool2d_forward", kwlist,
                                     &ox, &oy, &oa, &opool, &ostr, &opad))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *a = y ? arg_array(fn, oa, "argmax", NPY_INT32, 1) : NULL;
    int64_t d[4];
    dlc_pool2d_shape s;
    if (!a || pool_dims4(fn, x, "x", d) || pool_shape_from(fn, d, opool, ostr, opad, &s))
        return NULL;
    if (expect_shape(fn, y, "y", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_shape(fn, a, "argmax", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_disjoint(fn, y, "y", x, "x") || expect_disjoint(fn, a, "argmax", x, "x") ||
        expect_disjoint(fn, a, "argmax", y, "y"))
        return NULL;
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    int32_t *pa = PyArray_DATA(a);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_maxpool2d_forward(&s, px, py, pa);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* maxpool2d_backward(dy, argmax, dx, *, pool_size, strides, padding): dx += scatter of dy. */
static PyObject *py_maxpool2d_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "maxpool2d_backward";
    static char *kwlist[] = {"dy", "argmax", "dx", "pool_size", "strides", "padding", NULL};
    PyObject *ody, *oa, *odx, *opool = NULL, *ostr = NULL, *opad = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO" POOL_KWARGS ":maxpool2d_backward", kwlist,
                                     &ody, &oa, &odx, &opool, &ostr, &opad))
        return NULL;
    PyArrayObject *dy = arg_array(fn, ody, "dy", NPY_FLOAT32, 0);
    PyArrayObject *a = dy ? arg_array(fn, oa, "argmax", NPY_INT32, 0) : NULL;
    PyArrayObject *dx = a ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    int64_t d[4];
    dlc_pool2d_shape s;
    if (!dx || pool_dims4(fn, dx, "dx", d) || pool_shape_from(fn, d, opool, ostr, opad, &s))
        return NULL;
    if (expect_shape(fn, dy, "dy", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_shape(fn, a, "argmax", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_disjoint(fn, dx, "dx", dy, "dy") || expect_disjoint(fn, dx, "dx", a, "argmax"))
        return NULL;
    const float *pdy = PyArray_DATA(dy);
    const int32_t *pa = PyArray_DATA(a);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_maxpool2d_backward(&s, pdy, pa, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* avgpool2d_forward(x, y, *, pool_size=(2, 2), strides=(2, 2), padding=(0, 0, 0, 0)) */
static PyObject *py_avgpool2d_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "avgpool2d_forward";
    static char *kwlist[] = {"x", "y", "pool_size", "strides", "padding", NULL};
    PyObject *ox, *oy, *opool = NULL, *ostr = NULL, *opad = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO" POOL_KWARGS ":avgpool2d_forward", kwlist,
                                     &ox, &oy, &opool, &ostr, &opad))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    int64_t d[4];
    dlc_pool2d_shape s;
    if (!y || pool_dims4(fn, x, "x", d) || pool_shape_from(fn, d, opool, ostr, opad, &s))
        return NULL;
    if (expect_shape(fn, y, "y", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_disjoint(fn, y, "y", x, "x"))
        return NULL;
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_avgpool2d_forward(&s, px, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* avgpool2d_backward(dy, dx, *, pool_size, strides, padding): dx += dy spread over windows. */
static PyObject *py_avgpool2d_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "avgpool2d_backward";
    static char *kwlist[] = {"dy", "dx", "pool_size", "strides", "padding", NULL};
    PyObject *ody, *odx, *opool = NULL, *ostr = NULL, *opad = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO" POOL_KWARGS ":avgpool2d_backward", kwlist,
                                     &ody, &odx, &opool, &ostr, &opad))
        return NULL;
    PyArrayObject *dy = arg_array(fn, ody, "dy", NPY_FLOAT32, 0);
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    int64_t d[4];
    dlc_pool2d_shape s;
    if (!dx || pool_dims4(fn, dx, "dx", d) || pool_shape_from(fn, d, opool, ostr, opad, &s))
        return NULL;
    if (expect_shape(fn, dy, "dy", SHAPE(s.n, s.oh, s.ow, s.c)) ||
        expect_disjoint(fn, dx, "dx", dy, "dy"))
        return NULL;
    const float *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_avgpool2d_backward(&s, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* The (n, hw, c) of a 4-D (n, h, w, c) array for global pooling, or -1 with ValueError. */
static int gpool_dims(const char *fn, PyArrayObject *a, const char *name, int64_t *n,
                      int64_t *hw, int64_t *c) {
    int64_t d[4];
    if (pool_dims4(fn, a, name, d)) return -1;
    if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || d[1] * d[2] > INT32_MAX) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' must have positive sizes with h * w < 2**31, received "
                     "(%lld, %lld, %lld, %lld)", fn, name, (long long)d[0], (long long)d[1],
                     (long long)d[2], (long long)d[3]);
        return -1;
    }
    *n = d[0], *hw = d[1] * d[2], *c = d[3];
    return 0;
}

/* global_maxpool2d_forward(x, y, argmax): x (n, h, w, c), y and argmax (n, c). */
static PyObject *py_global_maxpool2d_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "global_maxpool2d_forward";
    static char *kwlist[] = {"x", "y", "argmax", NULL};
    PyObject *ox, *oy, *oa;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:global_maxpool2d_forward", kwlist, &ox,
                                     &oy, &oa))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *a = y ? arg_array(fn, oa, "argmax", NPY_INT32, 1) : NULL;
    int64_t n, hw, c;
    if (!a || gpool_dims(fn, x, "x", &n, &hw, &c) || expect_shape(fn, y, "y", SHAPE(n, c)) ||
        expect_shape(fn, a, "argmax", SHAPE(n, c)) || expect_disjoint(fn, y, "y", x, "x") ||
        expect_disjoint(fn, a, "argmax", x, "x") || expect_disjoint(fn, a, "argmax", y, "y"))
        return NULL;
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    int32_t *pa = PyArray_DATA(a);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_global_maxpool2d_forward(n, hw, c, px, py, pa);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* global_maxpool2d_backward(dy, argmax, dx): dx (n, h, w, c) += dy (n, c) at argmax. */
static PyObject *py_global_maxpool2d_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "global_maxpool2d_backward";
    static char *kwlist[] = {"dy", "argmax", "dx", NULL};
    PyObject *ody, *oa, *odx;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:global_maxpool2d_backward", kwlist, &ody,
                                     &oa, &odx))
        return NULL;
    PyArrayObject *dy = arg_array(fn, ody, "dy", NPY_FLOAT32, 0);
    PyArrayObject *a = dy ? arg_array(fn, oa, "argmax", NPY_INT32, 0) : NULL;
    PyArrayObject *dx = a ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    int64_t n, hw, c;
    if (!dx || gpool_dims(fn, dx, "dx", &n, &hw, &c) ||
        expect_shape(fn, dy, "dy", SHAPE(n, c)) || expect_shape(fn, a, "argmax", SHAPE(n, c)) ||
        expect_disjoint(fn, dx, "dx", dy, "dy") || expect_disjoint(fn, dx, "dx", a, "argmax"))
        return NULL;
    const float *pdy = PyArray_DATA(dy);
    const int32_t *pa = PyArray_DATA(a);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_global_maxpool2d_backward(n, hw, c, pdy, pa, pdx);
    Py_END_ALLOW_THREADS
    if (st == DLC_EINVAL) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'argmax' must hold indices in [0, h * w) = [0, %lld), received "
                     "an index outside it (dx is unchanged)", fn, (long long)hw);
        return NULL;
    }
    return status_result(fn, st);
}

/* global_avgpool2d_forward(x, y): x (n, h, w, c), y (n, c). */
static PyObject *py_global_avgpool2d_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "global_avgpool2d_forward";
    static char *kwlist[] = {"x", "y", NULL};
    PyObject *ox, *oy;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:global_avgpool2d_forward", kwlist, &ox, &oy))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    int64_t n, hw, c;
    if (!y || gpool_dims(fn, x, "x", &n, &hw, &c) || expect_shape(fn, y, "y", SHAPE(n, c)) ||
        expect_disjoint(fn, y, "y", x, "x"))
        return NULL;
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_global_avgpool2d_forward(n, hw, c, px, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* global_avgpool2d_backward(dy, dx): dx (n, h, w, c) += dy (n, c) / (h * w). */
static PyObject *py_global_avgpool2d_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "global_avgpool2d_backward";
    static char *kwlist[] = {"dy", "dx", NULL};
    PyObject *ody, *odx;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:global_avgpool2d_backward", kwlist, &ody,
                                     &odx))
        return NULL;
    PyArrayObject *dy = arg_array(fn, ody, "dy", NPY_FLOAT32, 0);
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    int64_t n, hw, c;
    if (!dx || gpool_dims(fn, dx, "dx", &n, &hw, &c) ||
        expect_shape(fn, dy, "dy", SHAPE(n, c)) || expect_disjoint(fn, dx, "dx", dy, "dy"))
        return NULL;
    const float *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_global_avgpool2d_backward(n, hw, c, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}
/* ==== END pool2d bindings ==== */

/* ==== BEGIN batchnorm bindings ==== */
/* 0 if no output in outs overlaps an input in ins or another output, else -1 with
 * ValueError (NULL entries are absent optional arrays). */
static int bn_disjoint_all(const char *fn, PyArrayObject **outs, const char **onames, int nout,
                           PyArrayObject **ins, const char **inames, int nin) {
    for (int i = 0; i < nout; i++) {
        for (int j = 0; j < nin; j++)
            if (expect_disjoint(fn, outs[i], onames[i], ins[j], inames[j])) return -1;
        for (int j = i + 1; j < nout; j++)
            if (expect_disjoint(fn, outs[i], onames[i], outs[j], onames[j])) return -1;
    }
    return 0;
}

/* ValueError "fn: argument 'name' must be want, received v". */
static void bn_bad_float(const char *fn, const char *name, const char *want, double v) {
    PyObject *o = PyFloat_FromDouble(v);
    if (o == NULL) return;
    PyErr_Format(PyExc_ValueError, "%s: argument '%s' must be %s, received %R", fn, name, want,
                 o);
    Py_DECREF(o);
}

/* (m, c) of x viewed as rows of its last axis, or -1 with ValueError. need_rows: m >= 1. */
static int bn_rows(const char *fn, PyArrayObject *x, int need_rows, int64_t *m, int64_t *c) {
    if (PyArray_NDIM(x) < 1 || PyArray_DIM(x, PyArray_NDIM(x) - 1) <= 0) {
        char got[256];
        fmt_shape(got, sizeof got, PyArray_NDIM(x), PyArray_DIMS(x));
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'x' must have at least 1 dimension and a positive channel "
                     "count (last axis), received shape %s", fn, got);
        return -1;
    }
    *c = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    *m = numel(x) / *c;
    if (need_rows && *m == 0) {
        char got[256];
        fmt_shape(got, sizeof got, PyArray_NDIM(x), PyArray_DIMS(x));
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'x' must hold at least one row of batch statistics, "
                     "received shape %s", fn, got);
        return -1;
    }
    return 0;
}

/* 0 if eps is finite and >= 0 (and momentum finite when given), else -1 with ValueError. */
static int bn_hyper(const char *fn, float eps, const float *momentum) {
    if (!isfinite(eps) || eps < 0.0f) {
        bn_bad_float(fn, "epsilon", "finite and >= 0", eps);
        return -1;
    }
    if (momentum && !isfinite(*momentum)) {
        bn_bad_float(fn, "momentum", "finite", *momentum);
        return -1;
    }
    return 0;
}

/* batchnorm_forward_train(x, gamma, beta, y, mean, invstd, moving_mean, moving_var, *,
 *                         epsilon=1e-3, momentum=0.99) */
static PyObject *py_batchnorm_forward_train(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "batchnorm_forward_train";
    static char *kwlist[] = {"x", "gamma", "beta", "y", "mean", "invstd", "moving_mean",
                             "moving_var", "epsilon", "momentum", NULL};
    PyObject *ox, *og, *ob, *oy, *om, *oi, *omm, *omv;
    float eps = 1e-3f, momentum = 0.99f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO|$ff:batchnorm_forward_train", kwlist,
                                     &ox, &og, &ob, &oy, &om, &oi, &omm, &omv, &eps, &momentum))
        return NULL;
    int err = 0;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    if (!x) return NULL;
    PyArrayObject *g = arg_array_opt(fn, og, "gamma", NPY_FLOAT32, 0, &err);
    PyArrayObject *b = err ? NULL : arg_array_opt(fn, ob, "beta", NPY_FLOAT32, 0, &err);
    if (err) return NULL;
    PyArrayObject *y = arg_array(fn, oy, "y", NPY_FLOAT32, 1);
    PyArrayObject *mean = y ? arg_array(fn, om, "mean", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *inv = mean ? arg_array(fn, oi, "invstd", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *mm = inv ? arg_array(fn, omm, "moving_mean", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *mv = mm ? arg_array(fn, omv, "moving_var", NPY_FLOAT32, 1) : NULL;
    int64_t m, c;
    if (!mv || bn_rows(fn, x, 1, &m, &c) || bn_hyper(fn, eps, &momentum)) return NULL;
    if ((g && expect_shape(fn, g, "gamma", SHAPE(c))) ||
        (b && expect_shape(fn, b, "beta", SHAPE(c))) || expect_same_shape(fn, y, "y", x) ||
        expect_shape(fn, mean, "mean", SHAPE(c)) || expect_shape(fn, inv, "invstd", SHAPE(c)) ||
        expect_shape(fn, mm, "moving_mean", SHAPE(c)) ||
        expect_shape(fn, mv, "moving_var", SHAPE(c)))
        return NULL;
    PyArrayObject *outs[] = {y, mean, inv, mm, mv}, *ins[] = {x, g, b};
    const char *onames[] = {"y", "mean", "invstd", "moving_mean", "moving_var"};
    const char *inames[] = {"x", "gamma", "beta"};
    if (bn_disjoint_all(fn, outs, onames, 5, ins, inames, 3)) return NULL;
    const float *px = PyArray_DATA(x), *pg = g ? PyArray_DATA(g) : NULL;
    const float *pb = b ? PyArray_DATA(b) : NULL;
    float *py = PyArray_DATA(y), *pm = PyArray_DATA(mean), *pi = PyArray_DATA(inv);
    float *pmm = PyArray_DATA(mm), *pmv = PyArray_DATA(mv);
    size_t wsz = dlc_batchnorm_workspace_size(m, c);
    void *ws = NULL;
    if (ws_alloc(wsz, &ws)) return NULL;
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_batchnorm_forward_train(m, c, eps, momentum, px, pg, pb, py, pm, pi, pmm, pmv, ws,
                                     wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}

/* batchnorm_forward_infer(x, gamma, beta, moving_mean, moving_var, y, *, epsilon=1e-3) */
static PyObject *py_batchnorm_forward_infer(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "batchnorm_forward_infer";
    static char *kwlist[] = {"x", "gamma", "beta", "moving_mean", "moving_var", "y", "epsilon",
                             NULL};
    PyObject *ox, *og, *ob, *omm, *omv, *oy;
    float eps = 1e-3f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOO|$f:batchnorm_forward_infer", kwlist, &ox,
                                     &og, &ob, &omm, &omv, &oy, &eps))
        return NULL;
    int err = 0;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    if (!x) return NULL;
    PyArrayObject *g = arg_array_opt(fn, og, "gamma", NPY_FLOAT32, 0, &err);
    PyArrayObject *b = err ? NULL : arg_array_opt(fn, ob, "beta", NPY_FLOAT32, 0, &err);
    if (err) return NULL;
    PyArrayObject *mm = arg_array(fn, omm, "moving_mean", NPY_FLOAT32, 0);
    PyArrayObject *mv = mm ? arg_array(fn, omv, "moving_var", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *y = mv ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    int64_t m, c;
    if (!y || bn_rows(fn, x, 0, &m, &c) || bn_hyper(fn, eps, NULL)) return NULL;
    if ((g && expect_shape(fn, g, "gamma", SHAPE(c))) ||
        (b && expect_shape(fn, b, "beta", SHAPE(c))) ||
        expect_shape(fn, mm, "moving_mean", SHAPE(c)) ||
        expect_shape(fn, mv, "moving_var", SHAPE(c)) || expect_same_shape(fn, y, "y", x))
        return NULL;
    PyArrayObject *outs[] = {y}, *ins[] = {x, g, b, mm, mv};
    const char *onames[] = {"y"};
    const char *inames[] = {"x", "gamma", "beta", "moving_mean", "moving_var"};
    if (bn_disjoint_all(fn, outs, onames, 1, ins, inames, 5)) return NULL;
    const float *px = PyArray_DATA(x), *pg = g ? PyArray_DATA(g) : NULL;
    const float *pb = b ? PyArray_DATA(b) : NULL;
    const float *pmm = PyArray_DATA(mm), *pmv = PyArray_DATA(mv);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_batchnorm_forward_infer(m, c, eps, px, pg, pb, pmm, pmv, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* batchnorm_backward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta): gamma, dgamma, dbeta may
 * be None; dx, dgamma, dbeta are accumulated. */
static PyObject *py_batchnorm_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "batchnorm_backward";
    static char *kwlist[] = {"x", "dy", "gamma", "mean", "invstd", "dx", "dgamma", "dbeta",
                             NULL};
    PyObject *ox, *ody, *og, *om, *oi, *odx, *odg, *odb;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO:batchnorm_backward", kwlist, &ox, &ody,
                                     &og, &om, &oi, &odx, &odg, &odb))
        return NULL;
    int err = 0;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *dy = x ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    if (!dy) return NULL;
    PyArrayObject *g = arg_array_opt(fn, og, "gamma", NPY_FLOAT32, 0, &err);
    if (err) return NULL;
    PyArrayObject *mean = arg_array(fn, om, "mean", NPY_FLOAT32, 0);
    PyArrayObject *inv = mean ? arg_array(fn, oi, "invstd", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = inv ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (!dx) return NULL;
    PyArrayObject *dg = arg_array_opt(fn, odg, "dgamma", NPY_FLOAT32, 1, &err);
    PyArrayObject *db = err ? NULL : arg_array_opt(fn, odb, "dbeta", NPY_FLOAT32, 1, &err);
    int64_t m, c;
    if (err || bn_rows(fn, x, 1, &m, &c)) return NULL;
    if (expect_same_shape(fn, dy, "dy", x) || (g && expect_shape(fn, g, "gamma", SHAPE(c))) ||
        expect_shape(fn, mean, "mean", SHAPE(c)) || expect_shape(fn, inv, "invstd", SHAPE(c)) ||
        expect_same_shape(fn, dx, "dx", x) || (dg && expect_shape(fn, dg, "dgamma", SHAPE(c))) ||
        (db && expect_shape(fn, db, "dbeta", SHAPE(c))))
        return NULL;
    PyArrayObject *outs[] = {dx, dg, db}, *ins[] = {x, dy, g, mean, inv};
    const char *onames[] = {"dx", "dgamma", "dbeta"};
    const char *inames[] = {"x", "dy", "gamma", "mean", "invstd"};
    if (bn_disjoint_all(fn, outs, onames, 3, ins, inames, 5)) return NULL;
    const float *px = PyArray_DATA(x), *pdy = PyArray_DATA(dy);
    const float *pg = g ? PyArray_DATA(g) : NULL;
    const float *pm = PyArray_DATA(mean), *pi = PyArray_DATA(inv);
    float *pdx = PyArray_DATA(dx), *pdg = dg ? PyArray_DATA(dg) : NULL;
    float *pdb = db ? PyArray_DATA(db) : NULL;
    size_t wsz = dlc_batchnorm_workspace_size(m, c);
    void *ws = NULL;
    if (ws_alloc(wsz, &ws)) return NULL;
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_batchnorm_backward(m, c, px, pdy, pg, pm, pi, pdx, pdg, pdb, ws, wsz);
    Py_END_ALLOW_THREADS
    free(ws);
    return status_result(fn, st);
}
/* ==== END batchnorm bindings ==== */

/* ==== BEGIN activations bindings ==== */
/* An elementwise forward's output: x's shape, and either x itself (in place: the very same
 * data and shape) or not overlapping it. 0, or -1 with ValueError. */
static int act_forward_out(const char *fn, PyArrayObject *y, PyArrayObject *x) {
    if (expect_same_shape(fn, y, "y", x)) return -1;
    if (PyArray_DATA(y) == PyArray_DATA(x)) return 0;
    return expect_disjoint(fn, y, "y", x, "x");
}

/* ValueError "fn: argument 'name' must be want, received v". */
static void act_bad_float(const char *fn, const char *name, const char *want, double v) {
    PyObject *o = PyFloat_FromDouble(v);
    if (o == NULL) return;
    PyErr_Format(PyExc_ValueError, "%s: argument '%s' must be %s, received %R", fn, name, want,
                 o);
    Py_DECREF(o);
}

/* The ReLU hyperparameters: negative_slope and threshold finite, max_value None (no cap,
 * INFINITY) or a number that is not NaN. 0, or -1 with an exception. */
static int act_relu_params(const char *fn, float slope, float thr, PyObject *omax,
                           float *maxv) {
    if (!isfinite(slope)) {
        act_bad_float(fn, "negative_slope", "finite", slope);
        return -1;
    }
    if (!isfinite(thr)) {
        act_bad_float(fn, "threshold", "finite", thr);
        return -1;
    }
    *maxv = INFINITY;
    if (omax == NULL || omax == Py_None) return 0;
    double v = PyFloat_AsDouble(omax);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: argument 'max_value' must be None or a number, "
                     "received %R", fn, omax);
        return -1;
    }
    if (isnan(v)) {
        act_bad_float(fn, "max_value", "None or a number (not NaN)", v);
        return -1;
    }
    *maxv = (float)v;
    return 0;
}

/* relu_forward(x, y, *, negative_slope=0.0, threshold=0.0, max_value=None) */
static PyObject *py_relu_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "relu_forward";
    static char *kwlist[] = {"x", "y", "negative_slope", "threshold", "max_value", NULL};
    PyObject *ox, *oy, *omax = NULL;
    float slope = 0.0f, thr = 0.0f, maxv;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$ffO:relu_forward", kwlist, &ox, &oy, &slope,
                                     &thr, &omax))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    if (!y || act_relu_params(fn, slope, thr, omax, &maxv) || act_forward_out(fn, y, x))
        return NULL;
    int64_t n = numel(x);
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_relu_forward(n, slope, thr, maxv, px, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* relu_backward(x, dy, dx, *, negative_slope=0.0, threshold=0.0, max_value=None) */
static PyObject *py_relu_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "relu_backward";
    static char *kwlist[] = {"x", "dy", "dx", "negative_slope", "threshold", "max_value", NULL};
    PyObject *ox, *ody, *odx, *omax = NULL;
    float slope = 0.0f, thr = 0.0f, maxv;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$ffO:relu_backward", kwlist, &ox, &ody,
                                     &odx, &slope, &thr, &omax))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *dy = x ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (!dx || act_relu_params(fn, slope, thr, omax, &maxv) ||
        expect_same_shape(fn, dy, "dy", x) || expect_same_shape(fn, dx, "dx", x) ||
        expect_disjoint(fn, dx, "dx", x, "x") || expect_disjoint(fn, dx, "dx", dy, "dy"))
        return NULL;
    int64_t n = numel(x);
    const float *px = PyArray_DATA(x), *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_relu_backward(n, slope, thr, maxv, px, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* elu_forward(x, y, *, alpha=1.0) */
static PyObject *py_elu_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "elu_forward";
    static char *kwlist[] = {"x", "y", "alpha", NULL};
    PyObject *ox, *oy;
    float alpha = 1.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$f:elu_forward", kwlist, &ox, &oy, &alpha))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    if (!y) return NULL;
    if (!isfinite(alpha)) {
        act_bad_float(fn, "alpha", "finite", alpha);
        return NULL;
    }
    if (act_forward_out(fn, y, x)) return NULL;
    int64_t n = numel(x);
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_elu_forward(n, alpha, px, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* elu_backward(x, y, dy, dx, *, alpha=1.0) */
static PyObject *py_elu_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "elu_backward";
    static char *kwlist[] = {"x", "y", "dy", "dx", "alpha", NULL};
    PyObject *ox, *oy, *ody, *odx;
    float alpha = 1.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|$f:elu_backward", kwlist, &ox, &oy, &ody,
                                     &odx, &alpha))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dy = y ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (!dx) return NULL;
    if (!isfinite(alpha)) {
        act_bad_float(fn, "alpha", "finite", alpha);
        return NULL;
    }
    if (expect_same_shape(fn, y, "y", x) || expect_same_shape(fn, dy, "dy", x) ||
        expect_same_shape(fn, dx, "dx", x) || expect_disjoint(fn, dx, "dx", x, "x") ||
        expect_disjoint(fn, dx, "dx", y, "y") || expect_disjoint(fn, dx, "dx", dy, "dy"))
        return NULL;
    int64_t n = numel(x);
    const float *px = PyArray_DATA(x), *py = PyArray_DATA(y), *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_elu_backward(n, alpha, px, py, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* The rows (m, k) of an array over its last axis, for softmax. 0, or -1 with ValueError. */
static int act_rows(const char *fn, PyArrayObject *x, int64_t *m, int64_t *k) {
    if (PyArray_NDIM(x) < 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'x' must have at least 1 dimension, received a 0-d array", fn);
        return -1;
    }
    *k = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    *m = *k ? numel(x) / *k : 0;
    return 0;
}

typedef dlc_status (*act_fwd_kernel)(int64_t, const float *, float *);
typedef dlc_status (*act_bwd_kernel)(int64_t, const float *, const float *, float *);
typedef dlc_status (*act_rows_fwd_kernel)(int64_t, int64_t, const float *, float *);
typedef dlc_status (*act_rows_bwd_kernel)(int64_t, int64_t, const float *, const float *,
                                          float *);

/* fn(x, y) with y = f(x); rows != NULL: over the last axis (softmax), else elementwise. */
static PyObject *act_forward_call(const char *fn, const char *format, PyObject *args,
                                  PyObject *kw, act_fwd_kernel elem, act_rows_fwd_kernel rows) {
    static char *kwlist[] = {"x", "y", NULL};
    PyObject *ox, *oy;
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, kwlist, &ox, &oy)) return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    if (!y) return NULL;
    int64_t m = numel(x), k = 1;
    if ((rows && act_rows(fn, x, &m, &k)) || act_forward_out(fn, y, x)) return NULL;
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = rows ? rows(m, k, px, py) : elem(m, px, py);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* fn(y, dy, dx) with dx += dy * f'(x) expressed through y. */
static PyObject *act_backward_call(const char *fn, const char *format, PyObject *args,
                                   PyObject *kw, act_bwd_kernel elem,
                                   act_rows_bwd_kernel rows) {
    static char *kwlist[] = {"y", "dy", "dx", NULL};
    PyObject *oy, *ody, *odx;
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, kwlist, &oy, &ody, &odx)) return NULL;
    PyArrayObject *y = arg_array(fn, oy, "y", NPY_FLOAT32, 0);
    PyArrayObject *dy = y ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (!dx) return NULL;
    int64_t m = numel(y), k = 1;
    if ((rows && act_rows(fn, y, &m, &k)) || expect_same_shape(fn, dy, "dy", y) ||
        expect_same_shape(fn, dx, "dx", y) || expect_disjoint(fn, dx, "dx", y, "y") ||
        expect_disjoint(fn, dx, "dx", dy, "dy"))
        return NULL;
    const float *py = PyArray_DATA(y), *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = rows ? rows(m, k, py, pdy, pdx) : elem(m, py, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* sigmoid_forward(x, y) */
static PyObject *py_sigmoid_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_forward_call("sigmoid_forward", "OO:sigmoid_forward", args, kw, dlc_sigmoid_forward, NULL);
}
/* sigmoid_backward(y, dy, dx) */
static PyObject *py_sigmoid_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_backward_call("sigmoid_backward", "OOO:sigmoid_backward", args, kw, dlc_sigmoid_backward, NULL);
}
/* tanh_forward(x, y) */
static PyObject *py_tanh_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_forward_call("tanh_forward", "OO:tanh_forward", args, kw, dlc_tanh_forward, NULL);
}
/* tanh_backward(y, dy, dx) */
static PyObject *py_tanh_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_backward_call("tanh_backward", "OOO:tanh_backward", args, kw, dlc_tanh_backward, NULL);
}
/* softmax_forward(x, y): over the last axis. */
static PyObject *py_softmax_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_forward_call("softmax_forward", "OO:softmax_forward", args, kw, NULL, dlc_softmax_forward);
}
/* softmax_backward(y, dy, dx): over the last axis. */
static PyObject *py_softmax_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return act_backward_call("softmax_backward", "OOO:softmax_backward", args, kw, NULL, dlc_softmax_backward);
}
/* ==== END activations bindings ==== */

/* ==== BEGIN softmax_xent bindings ==== */
/* Helpers shared by the softmax_xent, dropout and optim bindings (prefix lo_). */

/* Required keyword-only float (PyArg_ParseTupleAndKeywords makes every keyword-only argument
 * optional, so required ones arrive as NULL when missing). 0, or -1 with TypeError. */
static int lo_kw_float(const char *fn, const char *name, PyObject *obj, double *out) {
    if (obj == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: missing required keyword argument '%s'", fn, name);
        return -1;
    }
    double v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: argument '%s' must be a float, received %R", fn, name,
                     obj);
        return -1;
    }
    *out = v;
    return 0;
}

/* Required keyword-only int in [lo, hi] (uint64 range). 0, or -1 with TypeError/ValueError. */
static int lo_kw_uint(const char *fn, const char *name, PyObject *obj, unsigned long long lo,
                      unsigned long long hi, unsigned long long *out) {
    if (obj == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: missing required keyword argument '%s'", fn, name);
        return -1;
    }
    unsigned long long v = PyLong_Check(obj) ? PyLong_AsUnsignedLongLong(obj) : 0;
    if (!PyLong_Check(obj) || (v == (unsigned long long)-1 && PyErr_Occurred()) || v < lo ||
        v > hi) {
        PyErr_Clear();
        PyErr_Format(PyLong_Check(obj) ? PyExc_ValueError : PyExc_TypeError,
                     "%s: argument '%s' must be an int in [%llu, %llu], received %R", fn, name,
                     lo, hi, obj);
        return -1;
    }
    *out = v;
    return 0;
}

/* ValueError "fn: argument 'name' must be <what>, received <value>" unless ok. */
static int lo_check(const char *fn, const char *name, double value, int ok, const char *what) {
    if (ok) return 0;
    PyObject *v = PyFloat_FromDouble(value);
    if (v == NULL) return -1;
    PyErr_Format(PyExc_ValueError, "%s: argument '%s' must be %s, received %R", fn, name, what,
                 v);
    Py_DECREF(v);
    return -1;
}

#define LO_FLT_MAX 3.4028234663852886e+38 /* FLT_MAX */

/* v as a float32 in [lo, hi] (hi excluded when hi_open); what describes the range for the
 * message. Out-of-range, infinite and NaN values are refused before any cast. */
static int lo_hyper(const char *fn, const char *name, double v, double lo, double hi,
                    int hi_open, const char *what, float *out) {
    int ok = fabs(v) <= LO_FLT_MAX;
    float f = ok ? (float)v : 0.0f;
    ok = ok && f >= lo && (hi_open ? f < hi : f <= hi);
    if (lo_check(fn, name, v, ok, what)) return -1;
    *out = f;
    return 0;
}

/* An (m, k) float32 matrix with k >= 1; sets m and k. */
static PyArrayObject *lo_matrix(const char *fn, PyObject *obj, const char *name, int writeable,
                                int64_t *m, int64_t *k) {
    PyArrayObject *a = arg_array(fn, obj, name, NPY_FLOAT32, writeable);
    if (a == NULL || expect_ndim(fn, a, name, 2, "(samples, classes) matrix")) return NULL;
    *m = PyArray_DIM(a, 0), *k = PyArray_DIM(a, 1);
    if (*k < 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument '%s' must have at least 1 column, received shape (%lld, 0)",
                     fn, name, (long long)*m);
        return NULL;
    }
    return a;
}

/* The arrays of a loss call: x (m, k) float32 in; labels (m, k) float32 or, when sparse,
 * (m,) int32 in; out float32 out of shape (m,) for a loss or (m, k) for a gradient, disjoint
 * from both inputs. Returns 0, or -1 with the exception set. */
static int lo_loss_arrays(const char *fn, PyObject *ox, const char *xname, PyObject *oy,
                          int sparse, PyObject *oo, const char *oname, int out_is_loss,
                          PyArrayObject **x, PyArrayObject **y, PyArrayObject **o, int64_t *m,
                          int64_t *k) {
    *x = lo_matrix(fn, ox, xname, 0, m, k);
    if (*x == NULL) return -1;
    *y = arg_array(fn, oy, "labels", sparse ? NPY_INT32 : NPY_FLOAT32, 0);
    if (*y == NULL) return -1;
    if (sparse ? expect_shape(fn, *y, "labels", SHAPE(*m))
               : expect_shape(fn, *y, "labels", SHAPE(*m, *k)))
        return -1;
    *o = arg_array(fn, oo, oname, NPY_FLOAT32, 1);
    if (*o == NULL) return -1;
    if (out_is_loss ? expect_shape(fn, *o, oname, SHAPE(*m))
                    : expect_shape(fn, *o, oname, SHAPE(*m, *k)))
        return -1;
    if (expect_disjoint(fn, *o, oname, *x, xname) || expect_disjoint(fn, *o, oname, *y, "labels"))
        return -1;
    return 0;
}

static int lo_epsilon(const char *fn, double eps, float *out) {
    return lo_hyper(fn, "epsilon", eps, 0.0, 0.5, 1, "in [0, 0.5)", out);
}

static int lo_scale(const char *fn, PyObject *obj, float *scale) {
    double s;
    if (lo_kw_float(fn, "scale", obj, &s)) return -1;
    return lo_hyper(fn, "scale", s, -LO_FLT_MAX, LO_FLT_MAX, 0, "a finite float32", scale);
}

/* Fused softmax + cross-entropy forward, dense (sparse = 0) or int32 (sparse = 1) labels. */
static PyObject *lo_softmax_xent_forward(const char *fn, PyObject *args, PyObject *kw,
                                         int sparse) {
    static char *kwlist[] = {"logits", "labels", "probs", "loss", NULL};
    PyObject *ox, *oy, *op, *ol;
    if (!PyArg_ParseTupleAndKeywords(args, kw, sparse ? "OOOO:softmax_xent_sparse_forward"
                                                             : "OOOO:softmax_xent_forward", kwlist, &ox, &oy, &op, &ol)) return NULL;
    PyArrayObject *x, *y, *l, *p;
    int64_t m, k;
    if (lo_loss_arrays(fn, ox, "logits", oy, sparse, ol, "loss", 1, &x, &y, &l, &m, &k))
        return NULL;
    p = arg_array(fn, op, "probs", NPY_FLOAT32, 1);
    if (p == NULL || expect_shape(fn, p, "probs", SHAPE(m, k)) ||
        expect_disjoint(fn, p, "probs", x, "logits") ||
        expect_disjoint(fn, p, "probs", y, "labels") || expect_disjoint(fn, l, "loss", p, "probs"))
        return NULL;
    const float *px = PyArray_DATA(x);
    const void *py = PyArray_DATA(y);
    float *pp = PyArray_DATA(p), *pl = PyArray_DATA(l);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sparse ? dlc_softmax_xent_sparse_forward(m, k, px, py, pp, pl)
                : dlc_softmax_xent_forward(m, k, px, py, pp, pl);
    Py_END_ALLOW_THREADS
    if (st == DLC_EINVAL && sparse) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'labels' must hold class indices in [0, %lld), received a "
                     "label out of range",
                     fn, (long long)k);
        return NULL;
    }
    return status_result(fn, st);
}

static PyObject *lo_softmax_xent_backward(const char *fn, PyObject *args, PyObject *kw,
                                          int sparse) {
    static char *kwlist[] = {"probs", "labels", "dlogits", "scale", NULL};
    PyObject *op, *oy, *od, *os = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw,
                                     sparse ? "OOO|$O:softmax_xent_sparse_backward"
                                            : "OOO|$O:softmax_xent_backward",
                                     kwlist, &op, &oy, &od, &os))
        return NULL;
    PyArrayObject *p, *y, *d;
    int64_t m, k;
    float scale;
    if (lo_scale(fn, os, &scale) ||
        lo_loss_arrays(fn, op, "probs", oy, sparse, od, "dlogits", 0, &p, &y, &d, &m, &k))
        return NULL;
    const float *pp = PyArray_DATA(p);
    const void *py = PyArray_DATA(y);
    float *pd = PyArray_DATA(d);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sparse ? dlc_softmax_xent_sparse_backward(m, k, pp, py, scale, pd)
                : dlc_softmax_xent_backward(m, k, pp, py, scale, pd);
    Py_END_ALLOW_THREADS
    if (st == DLC_EINVAL && sparse) {
        PyErr_Format(PyExc_ValueError,
                     "%s: argument 'labels' must hold class indices in [0, %lld), received a "
                     "label out of range",
                     fn, (long long)k);
        return NULL;
    }
    return status_result(fn, st);
}

/* softmax_xent_forward(logits, labels, probs, loss): probs = softmax(logits), loss[i] = the
 * cross-entropy of row i against one-hot or soft labels. */
static PyObject *py_softmax_xent_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return lo_softmax_xent_forward("softmax_xent_forward", args, kw, 0);
}

static PyObject *py_softmax_xent_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return lo_softmax_xent_backward("softmax_xent_backward", args, kw, 0);
}

static PyObject *py_softmax_xent_sparse_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return lo_softmax_xent_forward("softmax_xent_sparse_forward", args, kw, 1);
}

static PyObject *py_softmax_xent_sparse_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    return lo_softmax_xent_backward("softmax_xent_sparse_backward", args, kw, 1);
}

typedef enum { LO_XENT, LO_BCE, LO_MSE } lo_loss_kind;

/* The forward of xent / bce / mse after parsing. */
static PyObject *lo_loss_forward(const char *fn, lo_loss_kind kind, PyObject *ox,
                                 const char *xname, PyObject *oy, PyObject *ol, int from_logits,
                                 double eps) {
    float epsf = 0.0f;
    if (kind != LO_MSE && lo_epsilon(fn, eps, &epsf)) return NULL;
    PyArrayObject *x, *y, *l;
    int64_t m, k;
    if (lo_loss_arrays(fn, ox, xname, oy, 0, ol, "loss", 1, &x, &y, &l, &m, &k)) return NULL;
    const float *px = PyArray_DATA(x), *py = PyArray_DATA(y);
    float *pl = PyArray_DATA(l);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    switch (kind) {
    case LO_XENT: st = dlc_xent_forward(m, k, epsf, px, py, pl); break;
    case LO_BCE: st = dlc_bce_forward(m, k, from_logits, epsf, px, py, pl); break;
    default: st = dlc_mse_forward(m, k, px, py, pl); break;
    }
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

static PyObject *lo_loss_backward(const char *fn, lo_loss_kind kind, PyObject *ox,
                                  const char *xname, PyObject *oy, PyObject *od,
                                  const char *dname, PyObject *os, int from_logits, double eps) {
    float scale;
    float epsf = 0.0f;
    if (lo_scale(fn, os, &scale) || (kind != LO_MSE && lo_epsilon(fn, eps, &epsf))) return NULL;
    PyArrayObject *x, *y, *d;
    int64_t m, k;
    if (lo_loss_arrays(fn, ox, xname, oy, 0, od, dname, 0, &x, &y, &d, &m, &k)) return NULL;
    const float *px = PyArray_DATA(x), *py = PyArray_DATA(y);
    float *pd = PyArray_DATA(d);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    switch (kind) {
    case LO_XENT: st = dlc_xent_backward(m, k, epsf, px, py, scale, pd); break;
    case LO_BCE: st = dlc_bce_backward(m, k, from_logits, epsf, px, py, scale, pd); break;
    default: st = dlc_mse_backward(m, k, px, py, scale, pd); break;
    }
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

static PyObject *py_xent_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"probs", "labels", "loss", "epsilon", NULL};
    PyObject *ox, *oy, *ol;
    double eps = 1e-7;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$d:xent_forward", kwlist, &ox, &oy, &ol,
                                     &eps))
        return NULL;
    return lo_loss_forward("xent_forward", LO_XENT, ox, "probs", oy, ol, 0, eps);
}

static PyObject *py_xent_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"probs", "labels", "dprobs", "scale", "epsilon", NULL};
    PyObject *ox, *oy, *od, *os = NULL;
    double eps = 1e-7;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$Od:xent_backward", kwlist, &ox, &oy, &od,
                                     &os, &eps))
        return NULL;
    return lo_loss_backward("xent_backward", LO_XENT, ox, "probs", oy, od, "dprobs", os, 0, eps);
}

static PyObject *py_bce_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "labels", "loss", "from_logits", "epsilon", NULL};
    PyObject *ox, *oy, *ol;
    int from_logits = 0;
    double eps = 1e-7;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$pd:bce_forward", kwlist, &ox, &oy, &ol,
                                     &from_logits, &eps))
        return NULL;
    return lo_loss_forward("bce_forward", LO_BCE, ox, "x", oy, ol, from_logits, eps);
}

static PyObject *py_bce_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "labels", "dx", "scale", "from_logits", "epsilon", NULL};
    PyObject *ox, *oy, *od, *os = NULL;
    int from_logits = 0;
    double eps = 1e-7;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$Opd:bce_backward", kwlist, &ox, &oy, &od,
                                     &os, &from_logits, &eps))
        return NULL;
    return lo_loss_backward("bce_backward", LO_BCE, ox, "x", oy, od, "dx", os, from_logits, eps);
}

static PyObject *py_mse_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "labels", "loss", NULL};
    PyObject *ox, *oy, *ol;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:mse_forward", kwlist, &ox, &oy, &ol))
        return NULL;
    return lo_loss_forward("mse_forward", LO_MSE, ox, "x", oy, ol, 0, 0.0);
}

static PyObject *py_mse_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "labels", "dx", "scale", NULL};
    PyObject *ox, *oy, *od, *os = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$O:mse_backward", kwlist, &ox, &oy, &od,
                                     &os))
        return NULL;
    return lo_loss_backward("mse_backward", LO_MSE, ox, "x", oy, od, "dx", os, 0, 0.0);
}
/* ==== END softmax_xent bindings ==== */

/* ==== BEGIN dropout bindings ==== */
#define LO_U64_MAX 18446744073709551615ULL

/* dropout_forward(x, y, mask, *, rate, seed, step): mask (uint8, the shape of x) = 1 where the
 * element is kept; y = x * mask / (1 - rate). */
static PyObject *py_dropout_forward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "dropout_forward";
    static char *kwlist[] = {"x", "y", "mask", "rate", "seed", "step", NULL};
    PyObject *ox, *oy, *om, *orate = NULL, *oseed = NULL, *ostep = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$OOO:dropout_forward", kwlist, &ox, &oy,
                                     &om, &orate, &oseed, &ostep))
        return NULL;
    double rate_d;
    float rate;
    unsigned long long seed, step;
    if (lo_kw_float(fn, "rate", orate, &rate_d) ||
        lo_hyper(fn, "rate", rate_d, 0.0, 1.0, 1, "in [0, 1)", &rate) ||
        lo_kw_uint(fn, "seed", oseed, 0, LO_U64_MAX, &seed) ||
        lo_kw_uint(fn, "step", ostep, 0, LO_U64_MAX, &step))
        return NULL;
    PyArrayObject *x = arg_array(fn, ox, "x", NPY_FLOAT32, 0);
    PyArrayObject *y = x ? arg_array(fn, oy, "y", NPY_FLOAT32, 1) : NULL;
    PyArrayObject *m = y ? arg_array(fn, om, "mask", NPY_UINT8, 1) : NULL;
    if (m == NULL || expect_same_shape(fn, y, "y", x) || expect_same_shape(fn, m, "mask", x) ||
        expect_disjoint(fn, y, "y", x, "x") || expect_disjoint(fn, m, "mask", x, "x") ||
        expect_disjoint(fn, m, "mask", y, "y"))
        return NULL;
    int64_t n = numel(x);
    const float *px = PyArray_DATA(x);
    float *py = PyArray_DATA(y);
    uint8_t *pm = PyArray_DATA(m);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_dropout_forward(n, rate, (uint64_t)seed, (uint64_t)step, px, py, pm);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* dropout_backward(mask, dy, dx, *, rate): dx += dy * mask / (1 - rate). */
static PyObject *py_dropout_backward(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "dropout_backward";
    static char *kwlist[] = {"mask", "dy", "dx", "rate", NULL};
    PyObject *om, *ody, *odx, *orate = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$O:dropout_backward", kwlist, &om, &ody,
                                     &odx, &orate))
        return NULL;
    double rate_d;
    float rate;
    if (lo_kw_float(fn, "rate", orate, &rate_d) ||
        lo_hyper(fn, "rate", rate_d, 0.0, 1.0, 1, "in [0, 1)", &rate))
        return NULL;
    PyArrayObject *m = arg_array(fn, om, "mask", NPY_UINT8, 0);
    PyArrayObject *dy = m ? arg_array(fn, ody, "dy", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *dx = dy ? arg_array(fn, odx, "dx", NPY_FLOAT32, 1) : NULL;
    if (dx == NULL || expect_same_shape(fn, dy, "dy", m) || expect_same_shape(fn, dx, "dx", m) ||
        expect_disjoint(fn, dx, "dx", dy, "dy") || expect_disjoint(fn, dx, "dx", m, "mask"))
        return NULL;
    int64_t n = numel(m);
    const uint8_t *pm = PyArray_DATA(m);
    const float *pdy = PyArray_DATA(dy);
    float *pdx = PyArray_DATA(dx);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_dropout_backward(n, rate, pm, pdy, pdx);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* philox_uniform(out, *, seed, step): fills out (float32, any shape) with the dropout stream. */
static PyObject *py_philox_uniform(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "philox_uniform";
    static char *kwlist[] = {"out", "seed", "step", NULL};
    PyObject *oo, *oseed = NULL, *ostep = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OO:philox_uniform", kwlist, &oo, &oseed,
                                     &ostep))
        return NULL;
    unsigned long long seed, step;
    if (lo_kw_uint(fn, "seed", oseed, 0, LO_U64_MAX, &seed) ||
        lo_kw_uint(fn, "step", ostep, 0, LO_U64_MAX, &step))
        return NULL;
    PyArrayObject *o = arg_array(fn, oo, "out", NPY_FLOAT32, 1);
    if (o == NULL) return NULL;
    int64_t n = numel(o);
    float *po = PyArray_DATA(o);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_philox_uniform(n, (uint64_t)seed, (uint64_t)step, po);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* Reads a sequence of exactly count ints in [0, 2^32). */
static int lo_u32_seq(const char *fn, PyObject *obj, const char *name, int count,
                      uint32_t *out) {
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL || PySequence_Fast_GET_SIZE(seq) != count) {
        Py_XDECREF(seq);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: argument '%s' must be a sequence of %d ints, "
                     "received %R", fn, name, count, obj);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        unsigned long long v;
        if (lo_kw_uint(fn, name, PySequence_Fast_GET_ITEM(seq, i), 0, 0xFFFFFFFFULL, &v)) {
            Py_DECREF(seq);
            return -1;
        }
        out[i] = (uint32_t)v;
    }
    Py_DECREF(seq);
    return 0;
}

/* philox4x32_10(counter, key) -> (4 ints): one raw Philox4x32-10 block (known-answer tests). */
static PyObject *py_philox4x32_10(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "philox4x32_10";
    static char *kwlist[] = {"counter", "key", NULL};
    PyObject *oc, *ok;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:philox4x32_10", kwlist, &oc, &ok))
        return NULL;
    uint32_t ctr[4], key[2], out[4];
    if (lo_u32_seq(fn, oc, "counter", 4, ctr) || lo_u32_seq(fn, ok, "key", 2, key)) return NULL;
    dlc_status st = dlc_philox4x32_10(ctr, key, out);
    if (st != DLC_OK) return status_result(fn, st);
    return Py_BuildValue("(kkkk)", (unsigned long)out[0], (unsigned long)out[1],
                         (unsigned long)out[2], (unsigned long)out[3]);
}
/* ==== END dropout bindings ==== */

/* ==== BEGIN optim bindings ==== */
/* The arrays of an optimizer step: objs[0] = w (updated), objs[1] = g (read only), then the
 * states (updated). A state whose obj is None is allowed only when why[i] != NULL (the
 * condition under which it is needed is false: the caller passes needed[i] = 0); every array
 * given must be float32, C-contiguous, of w's shape, and share no memory with any other.
 * Returns 0 with arr[i] (NULL for None), or -1 with the exception set. */
static int lo_optim_arrays(const char *fn, int count, PyObject *const *objs,
                           const char *const *names, const int *needed,
                           const char *const *why, PyArrayObject **arr) {
    for (int i = 0; i < count; i++) {
        arr[i] = NULL;
        if (objs[i] == Py_None) {
            if (i < 2 || needed[i]) {
                PyErr_Format(PyExc_ValueError,
                             "%s: argument '%s' must be a float32 array%s%s, received None", fn,
                             names[i], why[i] ? " " : "", why[i] ? why[i] : "");
                return -1;
            }
            continue;
        }
        arr[i] = arg_array(fn, objs[i], names[i], NPY_FLOAT32, i != 1);
        if (arr[i] == NULL) return -1;
        if (i > 0 && expect_same_shape(fn, arr[i], names[i], arr[0])) return -1;
    }
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            if (i != j && i != 1 && expect_disjoint(fn, arr[i], names[i], arr[j], names[j]))
                return -1;
    return 0;
}

static float *lo_data(PyArrayObject *a) { return a ? (float *)PyArray_DATA(a) : NULL; }

/* Hyperparameter ranges shared by the optimizers. */
static int lo_nonneg(const char *fn, const char *name, double v, float *out) {
    return lo_hyper(fn, name, v, 0.0, LO_FLT_MAX, 0, "a finite float >= 0", out);
}
static int lo_unit(const char *fn, const char *name, double v, float *out) {
    return lo_hyper(fn, name, v, 0.0, 1.0, 0, "in [0, 1]", out);
}

/* sgd_step(w, g, v, *, learning_rate, momentum=0.0, nesterov=False, weight_decay=0.0) */
static PyObject *py_sgd_step(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "sgd_step";
    static char *kwlist[] = {"w", "g", "v", "learning_rate", "momentum", "nesterov",
                             "weight_decay", NULL};
    PyObject *o[3], *olr = NULL;
    double lr_d, mom_d = 0.0, wd_d = 0.0;
    int nesterov = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$Odpd:sgd_step", kwlist, &o[0], &o[1], &o[2],
                                     &olr, &mom_d, &nesterov, &wd_d))
        return NULL;
    float lr, mom, wd;
    if (lo_kw_float(fn, "learning_rate", olr, &lr_d) ||
        lo_nonneg(fn, "learning_rate", lr_d, &lr) || lo_unit(fn, "momentum", mom_d, &mom) ||
        lo_nonneg(fn, "weight_decay", wd_d, &wd))
        return NULL;
    static const char *names[] = {"w", "g", "v"};
    static const char *why[] = {NULL, NULL, "when momentum != 0"};
    const int needed[] = {1, 1, mom != 0.0f};
    PyArrayObject *a[3];
    if (lo_optim_arrays(fn, 3, o, names, needed, why, a)) return NULL;
    int64_t n = numel(a[0]);
    float *w = lo_data(a[0]), *v = lo_data(a[2]);
    const float *g = lo_data(a[1]);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_sgd_step(n, lr, mom, nesterov, wd, w, g, v);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* adagrad_step(w, g, acc, *, learning_rate, epsilon=1e-7, weight_decay=0.0) */
static PyObject *py_adagrad_step(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "adagrad_step";
    static char *kwlist[] = {"w", "g", "acc", "learning_rate", "epsilon", "weight_decay", NULL};
    PyObject *o[3], *olr = NULL;
    double lr_d, eps_d = 1e-7, wd_d = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$Odd:adagrad_step", kwlist, &o[0], &o[1],
                                     &o[2], &olr, &eps_d, &wd_d))
        return NULL;
    float lr, eps, wd;
    if (lo_kw_float(fn, "learning_rate", olr, &lr_d) ||
        lo_nonneg(fn, "learning_rate", lr_d, &lr) || lo_nonneg(fn, "epsilon", eps_d, &eps) ||
        lo_nonneg(fn, "weight_decay", wd_d, &wd))
        return NULL;
    static const char *names[] = {"w", "g", "acc"};
    static const char *why[] = {NULL, NULL, NULL};
    const int needed[] = {1, 1, 1};
    PyArrayObject *a[3];
    if (lo_optim_arrays(fn, 3, o, names, needed, why, a)) return NULL;
    int64_t n = numel(a[0]);
    float *w = lo_data(a[0]), *acc = lo_data(a[2]);
    const float *g = lo_data(a[1]);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_adagrad_step(n, lr, eps, wd, w, g, acc);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* rmsprop_step(w, g, v, mom, avg, *, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7,
 *              centered=False, weight_decay=0.0) */
static PyObject *py_rmsprop_step(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "rmsprop_step";
    static char *kwlist[] = {"w",        "g",       "v",        "mom",          "avg",
                             "learning_rate", "rho", "momentum", "epsilon", "centered",
                             "weight_decay", NULL};
    PyObject *o[5], *olr = NULL;
    double lr_d, rho_d = 0.9, mom_d = 0.0, eps_d = 1e-7, wd_d = 0.0;
    int centered = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|$Odddpd:rmsprop_step", kwlist, &o[0],
                                     &o[1], &o[2], &o[3], &o[4], &olr, &rho_d, &mom_d, &eps_d,
                                     &centered, &wd_d))
        return NULL;
    float lr, rho, mom, eps, wd;
    if (lo_kw_float(fn, "learning_rate", olr, &lr_d) ||
        lo_nonneg(fn, "learning_rate", lr_d, &lr) || lo_unit(fn, "rho", rho_d, &rho) ||
        lo_unit(fn, "momentum", mom_d, &mom) || lo_nonneg(fn, "epsilon", eps_d, &eps) ||
        lo_nonneg(fn, "weight_decay", wd_d, &wd))
        return NULL;
    static const char *names[] = {"w", "g", "v", "mom", "avg"};
    static const char *why[] = {NULL, NULL, NULL, "when momentum != 0", "when centered"};
    const int needed[] = {1, 1, 1, mom != 0.0f, centered};
    PyArrayObject *a[5];
    if (lo_optim_arrays(fn, 5, o, names, needed, why, a)) return NULL;
    int64_t n = numel(a[0]);
    float *w = lo_data(a[0]), *v = lo_data(a[2]), *pm = lo_data(a[3]), *avg = lo_data(a[4]);
    const float *g = lo_data(a[1]);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_rmsprop_step(n, lr, rho, mom, eps, centered, wd, w, g, v, pm, avg);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* adam_step(w, g, m, v, vhat, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
 *           amsgrad=False, step, weight_decay=0.0) */
static PyObject *py_adam_step(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "adam_step";
    static char *kwlist[] = {"w",       "g",       "m",       "v",    "vhat",
                             "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad",
                             "step", "weight_decay", NULL};
    PyObject *o[5], *olr = NULL, *ostep = NULL;
    double lr_d, b1_d = 0.9, b2_d = 0.999, eps_d = 1e-7, wd_d = 0.0;
    int amsgrad = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|$OdddpOd:adam_step", kwlist, &o[0], &o[1],
                                     &o[2], &o[3], &o[4], &olr, &b1_d, &b2_d, &eps_d, &amsgrad,
                                     &ostep, &wd_d))
        return NULL;
    float lr, b1, b2, eps, wd;
    unsigned long long step;
    if (lo_kw_float(fn, "learning_rate", olr, &lr_d) ||
        lo_nonneg(fn, "learning_rate", lr_d, &lr) ||
        lo_hyper(fn, "beta_1", b1_d, 0.0, 1.0, 1, "in [0, 1)", &b1) ||
        lo_hyper(fn, "beta_2", b2_d, 0.0, 1.0, 1, "in [0, 1)", &b2) ||
        lo_nonneg(fn, "epsilon", eps_d, &eps) || lo_nonneg(fn, "weight_decay", wd_d, &wd) ||
        lo_kw_uint(fn, "step", ostep, 1, (unsigned long long)INT64_MAX, &step))
        return NULL;
    static const char *names[] = {"w", "g", "m", "v", "vhat"};
    static const char *why[] = {NULL, NULL, NULL, NULL, "when amsgrad"};
    const int needed[] = {1, 1, 1, 1, amsgrad};
    PyArrayObject *a[5];
    if (lo_optim_arrays(fn, 5, o, names, needed, why, a)) return NULL;
    int64_t n = numel(a[0]);
    float *w = lo_data(a[0]), *pm = lo_data(a[2]), *v = lo_data(a[3]), *vhat = lo_data(a[4]);
    const float *g = lo_data(a[1]);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_adam_step(n, lr, b1, b2, eps, amsgrad, (int64_t)step, wd, w, g, pm, v, vhat);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}

/* adadelta_step(w, g, acc_grad, acc_delta, *, learning_rate, rho=0.95, epsilon=1e-7,
 *               weight_decay=0.0) */
static PyObject *py_adadelta_step(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "adadelta_step";
    static char *kwlist[] = {"w", "g", "acc_grad", "acc_delta", "learning_rate", "rho",
                             "epsilon", "weight_decay", NULL};
    PyObject *o[4], *olr = NULL;
    double lr_d, rho_d = 0.95, eps_d = 1e-7, wd_d = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|$Oddd:adadelta_step", kwlist, &o[0], &o[1],
                                     &o[2], &o[3], &olr, &rho_d, &eps_d, &wd_d))
        return NULL;
    float lr, rho, eps, wd;
    if (lo_kw_float(fn, "learning_rate", olr, &lr_d) ||
        lo_nonneg(fn, "learning_rate", lr_d, &lr) || lo_unit(fn, "rho", rho_d, &rho) ||
        lo_nonneg(fn, "epsilon", eps_d, &eps) || lo_nonneg(fn, "weight_decay", wd_d, &wd))
        return NULL;
    static const char *names[] = {"w", "g", "acc_grad", "acc_delta"};
    static const char *why[] = {NULL, NULL, NULL, NULL};
    const int needed[] = {1, 1, 1, 1};
    PyArrayObject *a[4];
    if (lo_optim_arrays(fn, 4, o, names, needed, why, a)) return NULL;
    int64_t n = numel(a[0]);
    float *w = lo_data(a[0]), *ag = lo_data(a[2]), *ad = lo_data(a[3]);
    const float *g = lo_data(a[1]);
    dlc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = dlc_adadelta_step(n, lr, rho, eps, wd, w, g, ag, ad);
    Py_END_ALLOW_THREADS
    return status_result(fn, st);
}
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
    KW(gemm_rows, "gemm_rows(a, arow, b, c, *, kseg=0, sstride=0, trans_b=False, alpha=1.0, "
                  "beta=0.0): internal serial GEMM with A row i made of the k/kseg runs "
                  "a[arow[i]+s*sstride : +kseg] (kseg 0: one run of k) (tests)."),
    /* ---- BEGIN conv2d methods ---- */
    KW(conv2d_forward,
       "conv2d_forward(x, w, b, y, *, strides=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), "
       "groups=1): y = conv(x, w) + b (NHWC; w (kh, kw, c/groups, oc); b may be None; "
       "padding = (top, bottom, left, right))."),
    KW(conv2d_backward_data,
       "conv2d_backward_data(dy, w, dx, *, strides=(1, 1), dilation=(1, 1), "
       "padding=(0, 0, 0, 0), groups=1): dx += the input gradient of conv2d."),
    KW(conv2d_backward_weights,
       "conv2d_backward_weights(x, dy, dw, db, *, strides=(1, 1), dilation=(1, 1), "
       "padding=(0, 0, 0, 0), groups=1): dw += the kernel gradient, db += sum of dy "
       "(db may be None)."),
    /* ---- END conv2d methods ---- */
    /* ---- BEGIN pool2d methods ---- */
    KW(maxpool2d_forward, "maxpool2d_forward(x, y, argmax, *, pool_size=(2, 2), strides=(2, 2), "
                          "padding=(0, 0, 0, 0)): max pooling, NHWC; argmax (int32) is ih * w + iw."),
    KW(maxpool2d_backward, "maxpool2d_backward(dy, argmax, dx, *, pool_size=(2, 2), "
                           "strides=(2, 2), padding=(0, 0, 0, 0)): dx += dy routed to argmax."),
    KW(avgpool2d_forward, "avgpool2d_forward(x, y, *, pool_size=(2, 2), strides=(2, 2), "
                          "padding=(0, 0, 0, 0)): average pooling, padding not counted."),
    KW(avgpool2d_backward, "avgpool2d_backward(dy, dx, *, pool_size=(2, 2), strides=(2, 2), "
                           "padding=(0, 0, 0, 0)): dx += dy spread over each window."),
    KW(global_maxpool2d_forward, "global_maxpool2d_forward(x, y, argmax): x (n, h, w, c) -> "
                                 "y, argmax (n, c)."),
    KW(global_maxpool2d_backward, "global_maxpool2d_backward(dy, argmax, dx): dx += dy at argmax."),
    KW(global_avgpool2d_forward, "global_avgpool2d_forward(x, y): x (n, h, w, c) -> y (n, c)."),
    KW(global_avgpool2d_backward, "global_avgpool2d_backward(dy, dx): dx += dy / (h * w)."),
    /* ---- END pool2d methods ---- */
    /* ---- BEGIN batchnorm methods ---- */
    KW(batchnorm_forward_train, "batchnorm_forward_train(x, gamma, beta, y, mean, invstd, "
                                "moving_mean, moving_var, *, epsilon=1e-3, momentum=0.99): "
                                "batch statistics over every axis but the last; updates the "
                                "moving statistics (Keras convention, biased variance)."),
    KW(batchnorm_forward_infer, "batchnorm_forward_infer(x, gamma, beta, moving_mean, "
                                "moving_var, y, *, epsilon=1e-3): normalise with the moving "
                                "statistics."),
    KW(batchnorm_backward, "batchnorm_backward(x, dy, gamma, mean, invstd, dx, dgamma, dbeta): "
                           "dx, dgamma, dbeta += gradients (gamma, dgamma, dbeta may be None)."),
    /* ---- END batchnorm methods ---- */
    /* ---- BEGIN activations methods ---- */
    KW(relu_forward, "relu_forward(x, y, *, negative_slope=0.0, threshold=0.0, max_value=None): "
                     "Keras's general ReLU; y may be x (in place)."),
    KW(relu_backward, "relu_backward(x, dy, dx, *, negative_slope=0.0, threshold=0.0, "
                      "max_value=None): dx += dy * relu'(x)."),
    KW(elu_forward, "elu_forward(x, y, *, alpha=1.0): y may be x (in place)."),
    KW(elu_backward, "elu_backward(x, y, dy, dx, *, alpha=1.0): dx += dy * elu'(x)."),
    KW(sigmoid_forward, "sigmoid_forward(x, y): stable logistic; y may be x (in place)."),
    KW(sigmoid_backward, "sigmoid_backward(y, dy, dx): dx += dy * y * (1 - y)."),
    KW(tanh_forward, "tanh_forward(x, y): y may be x (in place)."),
    KW(tanh_backward, "tanh_backward(y, dy, dx): dx += dy * (1 - y * y)."),
    KW(softmax_forward, "softmax_forward(x, y): over the last axis; y may be x (in place)."),
    KW(softmax_backward, "softmax_backward(y, dy, dx): dx += y * (dy - sum(dy * y)) per row."),
    /* ---- END activations methods ---- */
    /* ---- BEGIN softmax_xent methods ---- */
    KW(softmax_xent_forward, "softmax_xent_forward(logits, labels, probs, loss): probs = "
                             "softmax(logits); loss[i] = -sum(labels[i] * log(probs[i]))."),
    KW(softmax_xent_backward, "softmax_xent_backward(probs, labels, dlogits, *, scale): "
                              "dlogits += scale * (probs - labels)."),
    KW(softmax_xent_sparse_forward, "softmax_xent_sparse_forward(logits, labels, probs, loss): "
                                    "the same with int32 class indices labels (m,)."),
    KW(softmax_xent_sparse_backward, "softmax_xent_sparse_backward(probs, labels, dlogits, *, "
                                     "scale): dlogits += scale * (probs - onehot(labels))."),
    KW(xent_forward, "xent_forward(probs, labels, loss, *, epsilon=1e-7): Keras categorical "
                     "cross-entropy on probabilities (renormalised, clipped)."),
    KW(xent_backward, "xent_backward(probs, labels, dprobs, *, scale, epsilon=1e-7): dprobs += "
                      "scale * d loss / d probs."),
    KW(bce_forward, "bce_forward(x, labels, loss, *, from_logits=False, epsilon=1e-7): binary "
                    "cross-entropy, loss[i] = mean over the last axis."),
    KW(bce_backward, "bce_backward(x, labels, dx, *, scale, from_logits=False, epsilon=1e-7): "
                     "dx += scale * d loss / dx."),
    KW(mse_forward, "mse_forward(x, labels, loss): loss[i] = mean((x[i] - labels[i])**2)."),
    KW(mse_backward, "mse_backward(x, labels, dx, *, scale): dx += scale * 2 * (x - labels) / k."),
    /* ---- END softmax_xent methods ---- */
    /* ---- BEGIN dropout methods ---- */
    KW(dropout_forward, "dropout_forward(x, y, mask, *, rate, seed, step): inverted dropout, "
                        "mask from Philox-4x32-10 keyed by (seed, step)."),
    KW(dropout_backward, "dropout_backward(mask, dy, dx, *, rate): dx += dy * mask / (1 - rate)."),
    KW(philox_uniform, "philox_uniform(out, *, seed, step): the dropout stream as floats in "
                       "[0, 1)."),
    KW(philox4x32_10, "philox4x32_10(counter, key) -> 4 ints: one raw Philox4x32-10 block."),
    /* ---- END dropout methods ---- */
    /* ---- BEGIN optim methods ---- */
    KW(sgd_step, "sgd_step(w, g, v, *, learning_rate, momentum=0.0, nesterov=False, "
                 "weight_decay=0.0): one Keras 3 SGD update in place."),
    KW(adagrad_step, "adagrad_step(w, g, acc, *, learning_rate, epsilon=1e-7, weight_decay=0.0)"
                     ": one Keras 3 Adagrad update in place."),
    KW(rmsprop_step, "rmsprop_step(w, g, v, mom, avg, *, learning_rate, rho=0.9, momentum=0.0, "
                     "epsilon=1e-7, centered=False, weight_decay=0.0): one Keras 3 RMSprop "
                     "update in place."),
    KW(adam_step, "adam_step(w, g, m, v, vhat, *, learning_rate, beta_1=0.9, beta_2=0.999, "
                  "epsilon=1e-7, amsgrad=False, step, weight_decay=0.0): one Keras 3 Adam "
                  "update in place (step is 1-based)."),
    KW(adadelta_step, "adadelta_step(w, g, acc_grad, acc_delta, *, learning_rate, rho=0.95, "
                      "epsilon=1e-7, weight_decay=0.0): one Keras 3 Adadelta update in place."),
    /* ---- END optim methods ---- */
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "dlc._C",
                                       "dlc's C kernels (float32, NHWC, zero copy).", -1,
                                       methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__C(void) {
    import_array();
    return PyModule_Create(&moduledef);
}
