// LanternKernels: see the files of this module.
