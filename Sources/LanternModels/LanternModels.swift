// LanternModels: see the files of this module.
