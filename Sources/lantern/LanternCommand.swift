// The `lantern` command line. Subcommands are registered here; errors are mapped to exit codes
// in `reportAndExit`, the only place the process exits with a failure.

import ArgumentParser
import Foundation
import LanternDictionaries
import LanternFormats
import LanternModels
import LanternTokenizers

struct LanternCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lantern",
    abstract: "Activation extraction and sparse-dictionary training for mechanistic interpretability.",
    subcommands: [
      RunCommand.self, TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, StatusCommand.self,
      KeygenCommand.self,
      InspectPipelineCommand.self,
      ExtractCommand.self, VerifyCommand.self, InspectCommand.self, ExportNPYCommand.self,
      ForwardCommand.self,
      TokenizeCommand.self, LensCommand.self, InspectModelCommand.self, BenchCommand.self, DoctorCommand.self,
    ])

  /// Runs the command line; never returns.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
      Foundation.exit(0)
    } catch let error as ModelError {
      reportAndExit(error, code: 3)
    } catch let error as FormatError {
      reportAndExit(error, code: 4)
    } catch let error as TokenizerError {
      reportAndExit(error, code: 5)
    } catch let error as ExitCode {
      Foundation.exit(error.rawValue)
    } catch let error as CLIError {
      reportAndExit(error, code: 2)
    } catch let error as DataError {
      reportAndExit(error, code: 6)
    } catch let error as TrainingError {
      reportAndExit(error, code: 6)
    } catch let error as DictionaryStorageError {
      reportAndExit(error, code: 6)
    } catch let error as ResumeRefused {
      reportAndExit(error, code: 6)
    } catch {
      exit(withError: error)
    }
  }

  static func reportAndExit(_ error: any Error, code: Int32) -> Never {
    FileHandle.standardError.write(Data("lantern: error: \(error)\n".utf8))
    Foundation.exit(code)
  }
}

/// Usage errors the command line finds itself.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}

/// Writes a line to standard error (progress and logs; results go to standard output).
func log(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}
