import ArgumentParser

LanternCommand.main()
