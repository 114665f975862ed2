{
  "variables": {
    "rpelab_blas%": "<!(echo ${RPELAB_BLAS:-builtin})",
    "rpelab_mvec%": "<!(echo ${RPELAB_MVEC:-no})"
  },
  "targets": [
    {
      "target_name": "rpelab_native",
      "sources": ["src/rpelab_native.c", "src/blas.c", "src/sgemm.c", "src/jobs.c", "src/lrpe.c", "src/sine_spe.c", "src/layernorm.c", "src/softmax_nll.c", "src/trig.c", "src/conv_spe.c", "src/normal.c", "src/flash.c", "src/linear_scan.c", "src/copy_box.c", "src/rows.c", "src/favor.c", "src/transpose.c", "src/adam.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=off", "-fopenmp-simd", "-std=c11", "-Wall", "-pthread"],
      "ldflags": ["-lm", "-pthread"],
      "conditions": [
        ["rpelab_blas=='openblas'", { "defines": ["RPELAB_OPENBLAS"], "libraries": ["-lopenblas"] }],
        ["rpelab_mvec=='yes'", { "defines": ["RPELAB_MVEC"], "libraries": ["-lmvec"] }]
      ]
    }
  ]
}
