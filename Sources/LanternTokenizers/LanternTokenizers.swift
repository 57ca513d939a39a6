// LanternTokenizers: see the files of this module.
