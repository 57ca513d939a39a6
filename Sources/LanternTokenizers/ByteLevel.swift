// GPT-2's byte alphabet and the ByteLevel decoder. Mirrors huggingface/tokenizers
// tokenizers/src/pre_tokenizers/byte_level.rs (`bytes_char`, `impl Decoder for ByteLevel`).
//
// Byte-level BPE spells every token in a 256-character alphabet: the printable bytes stand for
// themselves ('!'...'~', '¡'...'¬', '®'...'ÿ') and the other 68 bytes, in order, for U+0100 upwards
// (so a space is 'Ġ', U+0120, and a newline 'Ċ'). Decoding maps each token's characters back to
// bytes; a token with any character outside the alphabet (an added token such as "<tool>" is inside
// it, "<|café|>" would not be) contributes its own UTF-8 instead. The concatenated bytes are then
// decoded leniently, one U+FFFD per ill-formed sequence, as Rust's `String::from_utf8_lossy` does.

/// The byte ↔ character mapping of byte-level BPE.
enum ByteAlphabet {
  /// The alphabet character (a scalar value) standing for each byte.
  static let scalarForByte: [UInt32] = {
    var table = [UInt32](repeating: 0, count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      let printable =
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
      if printable {
        table[byte] = UInt32(byte)
      } else {
        table[byte] = next
        next += 1
      }
    }
    return table
  }()

  /// The byte each alphabet character stands for, indexed by scalar value (-1: not in the alphabet).
  static let byteForScalar: [Int16] = {
    var table = [Int16](repeating: -1, count: 324)
    for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
    return table
  }()

  /// The bytes a token spelled in the alphabet stands for, or nil if it uses another character.
  static func bytes(ofSpelled token: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(token.unicodeScalars.count)
    for scalar in token.unicodeScalars {
      let value = Int(scalar.value)
      guard value < byteForScalar.count, byteForScalar[value] >= 0 else { return nil }
      bytes.append(UInt8(byteForScalar[value]))
    }
    return bytes
  }

  /// `bytes` spelled in the alphabet.
  static func spell(_ bytes: some Sequence<UInt8>) -> String {
    var scalars = String.UnicodeScalarView()
    for byte in bytes { scalars.append(Unicode.Scalar(scalarForByte[Int(byte)])!) }
    return String(scalars)
  }
}

/// Decodes ids to text: the ByteLevel decoder over precomputed per-token bytes.
struct ByteLevelDecoder: Sendable {
  /// The bytes each id decodes to (empty for ids with no token).
  let bytesByID: [[UInt8]]
  /// Ids whose token is special (dropped when decoding with `skipSpecialTokens`).
  let special: [Bool]

  /// Precomputes decoding for `tokens` (indexed by id; nil = no token) and the special flags.
  init(tokens: [String?], special: [Bool]) {
    bytesByID = tokens.map { token in
      guard let token else { return [] }
      return ByteAlphabet.bytes(ofSpelled: token) ?? Array(token.utf8)
    }
    self.special = special
  }

  /// The text for `ids`; ids with no token are skipped, as are special ones if asked.
  func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(ids.count * 4)
    for id in ids where id >= 0 && id < bytesByID.count {
      if skipSpecialTokens && special[id] { continue }
      bytes.append(contentsOf: bytesByID[id])
    }
    return UTF8Codec.decodeLossy(bytes)
  }
}
