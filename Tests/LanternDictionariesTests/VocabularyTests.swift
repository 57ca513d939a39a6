// The names the command line and cfg.json use for architectures and kinds.

import LanternDictionaries
import Testing

@Test func architectureAndKindNamesAreTheCommandLineSpellings() {
  #expect(Architecture.allCases.map(\.rawValue) == ["relu", "topk", "batchtopk", "jumprelu", "matryoshka"])
  #expect(DictionaryKind(rawValue: "skip-transcoder") == .skipTranscoder)
  #expect(DictionaryKind(rawValue: "skip_transcoder") == nil)
}
