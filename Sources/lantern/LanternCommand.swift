// The `lantern` command line: subcommands are registered here; errors map to exit codes in one place.

import ArgumentParser

struct LanternCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lantern",
    abstract: "Activation extraction and sparse-dictionary training for mechanistic interpretability.",
    subcommands: [])
}
