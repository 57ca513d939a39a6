// Entry point: pick OpenBLAS's kernel for this CPU (may re-execute this binary once, before any
// thread starts), then parse, run, and map every error to an exit code and a hint in one place.
import LanternTensor

BLASDispatch.reexecIfNeeded()
LanternCommand.main()
