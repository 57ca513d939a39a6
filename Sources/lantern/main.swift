import ArgumentParser
LanternCommand.main()
