// `lantern tokenize`: one JSON array of token ids per input line, no special tokens added,
// to compare with `tokenizer.encode(line, add_special_tokens=False)`.

import ArgumentParser
import Foundation
import LanternTokenizers

struct TokenizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize", abstract: "Tokenize each line of a file; print one JSON array of ids per line.")

  @Option(help: "A Hugging Face directory or a .gguf file (only its tokenizer is read).")
  var model: String

  @Option(help: "A UTF-8 text file, one document per line.")
  var input: String

  func run() throws {
    let tokenizer = try Tokenizer.forModel(at: model)
    guard let data = FileManager.default.contents(atPath: input) else {
      throw CLIError("\(input): cannot read the file ---> HINT: check the path")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw CLIError("\(input): not valid UTF-8")
    }
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    var output = ""
    for line in lines {
      let ids = try tokenizer.encode(line, addSpecialTokens: false)
      output += "[" + ids.map(String.init).joined(separator: ",") + "]\n"
      if output.utf8.count > 1 << 16 {
        FileHandle.standardOutput.write(Data(output.utf8))
        output = ""
      }
    }
    FileHandle.standardOutput.write(Data(output.utf8))
  }
}
