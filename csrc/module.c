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

/* gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, reference=False):
 * c = alpha * op(a) @ op(b) + beta * c, all 2-D float32. */
static PyObject *py_gemm(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static const char *fn = "gemm";
    static char *kwlist[] = {"a", "b", "c", "trans_a", "trans_b", "alpha", "beta", "reference",
                             NULL};
    PyObject *oa, *ob, *oc;
    int ta = 0, tb = 0, ref = 0;
    float alpha = 1.0f, beta = 0.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|$ppffp:gemm", kwlist, &oa, &ob, &oc, &ta,
                                     &tb, &alpha, &beta, &ref))
        return NULL;
    PyArrayObject *a = arg_array(fn, oa, "a", NPY_FLOAT32, 0);
    PyArrayObject *b = a ? arg_array(fn, ob, "b", NPY_FLOAT32, 0) : NULL;
    PyArrayObject *c = b ? arg_array(fn, oc, "c", NPY_FLOAT32, 1) : NULL;
    if (!c || expect_ndim(fn, a, "a", 2, "matrix") || expect_ndim(fn, b, "b", 2, "matrix"))
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
    size_t wsz = ref ? 0 : dlc_sgemm_workspace_size(m, n, k);
    if (ws_alloc(wsz, &ws)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (ref)
        st = dlc_sgemm_ref(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    else
        st = dlc_sgemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, ws, wsz);
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
             "reference=False): c = alpha * op(a) @ op(b) + beta * c."),
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
