// Entry point: parse, run, and map every error to an exit code and a one-line hint in one place.
LanternCommand.main()
