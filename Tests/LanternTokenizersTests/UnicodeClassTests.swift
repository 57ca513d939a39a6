// The scanners' character classes against the ones the reference's regex engine (Oniguruma inside
// `tokenizers`) uses, for every Unicode code point.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternTokenizers

@Suite("Unicode classes")
struct UnicodeClassTests {
  @Test("\\p{L}, \\p{N} and \\s agree with the reference on all code points")
  func classesMatchReference() throws {
    let data = try Data(contentsOf: Fixtures.url("tokenizers/unicode-classes.json"))
    let ranges = try JSONDecoder().decode([String: [[UInt32]]].self, from: data)
    for (name, flag) in [("L", ScalarClass.letter), ("N", ScalarClass.number), ("S", ScalarClass.whitespace)]
    {
      var expected = [Bool](repeating: false, count: 0x11_0000)
      for range in try #require(ranges[name]) {
        for value in range[0]...range[1] { expected[Int(value)] = true }
      }
      var mismatches: [String] = []
      for value in UInt32(1)..<0x11_0000 where !(0xD800...0xDFFF).contains(value) {
        if (ScalarClass.of(value) & flag != 0) != expected[Int(value)] {
          mismatches.append(String(value, radix: 16))
        }
      }
      #expect(mismatches.isEmpty, "\\\(name): \(mismatches.count) differ, e.g. \(mismatches.prefix(10))")
    }
  }

  @Test("lossy UTF-8 decoding replaces each maximal ill-formed subsequence once")
  func lossyDecoding() {
    // Expected values follow the Unicode standard's "U+FFFD substitution of maximal subparts", which
    // Rust's from_utf8_lossy implements (Python's errors="replace" agrees on all of these).
    let cases: [([UInt8], String)] = [
      ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
      ([0xF0, 0x9F, 0x98, 0x41], "\u{FFFD}A"),
      ([0xE2, 0x82], "\u{FFFD}"),
      ([0xC0, 0x80], "\u{FFFD}\u{FFFD}"),
      ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
      ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
      ([0x80, 0x41, 0xC3, 0xA9], "\u{FFFD}Aé"),
      ([0xF0, 0x9F, 0x98, 0x80], "😀"),
    ]
    for (bytes, expected) in cases {
      #expect(UTF8Codec.decodeLossy(bytes) == expected, "\(bytes)")
    }
  }
}
