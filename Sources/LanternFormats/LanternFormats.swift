// LanternFormats: see the files of this module.
