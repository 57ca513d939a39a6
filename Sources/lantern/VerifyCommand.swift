// `lantern verify`: every committed shard of a job against its manifest entry and its own
// checksums. Exit code 0: all good; 1: damage found (each problem is listed).

import ArgumentParser
import Foundation
import LanternShards

struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Check every committed shard of a job against the manifest and its checksums.")

  @Argument(help: "The job directory.") var jobDirectory: String

  func run() throws {
    let url = URL(fileURLWithPath: jobDirectory)
    let manifestPath = url.appendingPathComponent("manifest.jsonl").path
    guard FileManager.default.fileExists(atPath: manifestPath) else {
      throw CLIError("\(jobDirectory): no manifest.jsonl ---> HINT: is this a Lantern job directory?")
    }
    let manifest = try Manifest(path: manifestPath)
    var problems: [String] = []
    var files = 0
    var bytes = 0
    var listed = Set<String>()
    for entry in manifest.entries {
      for out in entry.outputs {
        files += 1
        listed.insert(out.path)
        let path = url.appendingPathComponent(out.path).path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
          problems.append("\(out.path): missing (unit \(entry.unit))")
          continue
        }
        let size = (attributes[.size] as? Int) ?? -1
        if size != out.bytes { problems.append("\(out.path): \(size) bytes, the manifest says \(out.bytes)") }
        do {
          let reader = try ShardReader(path: path)
          let crc = try reader.verify()
          if crc != out.checksum {
            problems.append("\(out.path): checksum \(crc), the manifest says \(out.checksum)")
          }
          if reader.rowCount != out.rows {
            problems.append("\(out.path): \(reader.rowCount) rows, the manifest says \(out.rows)")
          }
          bytes += size
        } catch {
          problems.append("\(error)")
        }
      }
    }
    // Final shards the manifest does not list (a crash between rename and manifest) are not part
    // of the job's results; they are reported, not counted as damage.
    var unlisted: [String] = []
    let shards = url.appendingPathComponent("shards")
    for hook in (try? FileManager.default.contentsOfDirectory(atPath: shards.path)) ?? [] {
      for f
        in (try? FileManager.default.contentsOfDirectory(atPath: shards.appendingPathComponent(hook).path))
        ?? []
      where f.hasSuffix(".lshard") && !listed.contains("shards/\(hook)/\(f)") {
        unlisted.append("shards/\(hook)/\(f)")
      }
    }
    print("\(manifest.entries.count) committed units, \(files) shards, \(bytes) bytes checked")
    if !unlisted.isEmpty {
      print("note: \(unlisted.count) shard file(s) not in the manifest (uncommitted): \(unlisted.prefix(5))")
    }
    if problems.isEmpty {
      print("OK")
    } else {
      for p in problems { print("DAMAGED: \(p)") }
      throw ExitCode(1)
    }
  }
}
