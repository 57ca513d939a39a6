// Text as the pre-tokenizers see it: Unicode scalars with their regex character classes, pieces as
// ranges into it. Also the UTF-8 codec the pipeline needs between stages.
//
// Hugging Face tokenizers compiles its split regexes with Oniguruma, whose tables are Unicode 16, while
// Swift 6.3's are Unicode 17. `\p{L}` and `\p{N}` are the L* and N* general categories and `\s` the
// White_Space property in both; code points first assigned after Unicode 16 are classed here as
// unassigned, which makes the classes identical to the reference's for every code point (a test checks
// all 1,114,112 against classes dumped from `tokenizers`). Added tokens' `single_word` uses Rust regex's
// `\w` (Alphabetic, marks, Nd, Pc, Join_Control), with the same cutoff.

/// Bit flags for one scalar's classes.
enum ScalarClass {
  /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
  static let letter: UInt8 = 1
  /// `\p{N}`: Nd, Nl, No.
  static let number: UInt8 = 2
  /// `\s`: the White_Space property.
  static let whitespace: UInt8 = 4
  /// Rust regex `\w`, used only by `single_word` added tokens.
  static let word: UInt8 = 8

  /// The newest Unicode version the reference's regex tables know.
  static let referenceUnicodeMajor = 16

  /// Classes of every BMP code point (surrogates get 0), built on first use (~65k property lookups).
  static let basicPlane: [UInt8] = (0..<0x1_0000).map { compute(UInt32($0)) }

  /// The classes of code point `value`.
  @inline(__always)
  static func of(_ value: UInt32) -> UInt8 {
    value < 0x1_0000 ? basicPlane.withUnsafeBufferPointer { $0[Int(value)] } : compute(value)
  }

  /// Slow path: asks the standard library, hiding code points newer than the reference's tables.
  static func compute(_ value: UInt32) -> UInt8 {
    guard let scalar = Unicode.Scalar(value) else { return 0 }
    let properties = scalar.properties
    var flags: UInt8 = properties.isWhitespace ? whitespace : 0
    guard let age = properties.age, age.major <= referenceUnicodeMajor else { return flags }
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      flags |= letter
    case .decimalNumber, .letterNumber, .otherNumber:
      flags |= number
    default: break
    }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
      flags |= word
    default:
      if properties.isAlphabetic || properties.isJoinControl { flags |= word }
    }
    return flags
  }
}

/// A piece of text being pre-tokenized: its scalars and their classes. Pieces are `Range<Int>`s of
/// scalar indices; a stage that must change text (ByteLevel's prefix space) appends a new copy.
struct ScalarText {
  /// Unicode scalar values.
  var scalars: [UInt32]
  /// `ScalarClass` flags, one per scalar.
  var classes: [UInt8]

  /// The scalars of `utf8` (well-formed UTF-8, as cut from a Swift string) with their classes.
  init(utf8: ArraySlice<UInt8>) {
    var scalars: [UInt32] = []
    scalars.reserveCapacity(utf8.count)
    utf8.withUnsafeBufferPointer { bytes in
      var i = 0
      let count = bytes.count
      while i < count {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 {
          scalars.append(b0)
          i &+= 1
          continue
        }
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
        guard i &+ length <= count else { break }
        var value = b0 & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for k in 1..<length { value = value << 6 | UInt32(bytes[i &+ k] & 0x3F) }
        scalars.append(value)
        i &+= length
      }
    }
    var classes = [UInt8](repeating: 0, count: scalars.count)
    let count = scalars.count
    scalars.withUnsafeBufferPointer { source in
      classes.withUnsafeMutableBufferPointer { flags in
        ScalarClass.basicPlane.withUnsafeBufferPointer { table in
          var i = 0
          while i < count {
            let value = source[i]
            flags[i] = value < 0x1_0000 ? table[Int(value)] : ScalarClass.compute(value)
            i &+= 1
          }
        }
      }
    }
    self.scalars = scalars
    self.classes = classes
  }

  /// The whole text as one piece.
  var all: Range<Int> { 0..<scalars.count }

  /// Appends `prefix` followed by a copy of `range` and returns the new piece's range.
  mutating func appendCopy(of range: Range<Int>, prefixedWith prefix: UInt32) -> Range<Int> {
    let start = scalars.count
    scalars.append(prefix)
    classes.append(ScalarClass.of(prefix))
    scalars.append(contentsOf: scalars[range])
    classes.append(contentsOf: classes[range])
    return start..<scalars.count
  }
}

/// UTF-8 helpers shared by the pipeline stages.
enum UTF8Codec {
  /// Appends the UTF-8 encoding of scalars `range` of `scalars` to `bytes`.
  static func append(_ scalars: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, to bytes: inout [UInt8]) {
    for i in range {
      let value = scalars[i]
      if value < 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: value))
      } else if value < 0x800 {
        bytes.append(UInt8(truncatingIfNeeded: 0xC0 | (value >> 6)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
      } else if value < 0x1_0000 {
        bytes.append(UInt8(truncatingIfNeeded: 0xE0 | (value >> 12)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
      } else {
        bytes.append(UInt8(truncatingIfNeeded: 0xF0 | (value >> 18)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 12) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
      }
    }
  }

  /// Decodes bytes the way Rust's `String::from_utf8_lossy` does: each maximal ill-formed
  /// subsequence (Unicode's "substitution of maximal subparts") becomes one U+FFFD.
  static func decodeLossy(_ bytes: [UInt8]) -> String {
    var scalars = String.UnicodeScalarView()
    var i = 0
    let n = bytes.count
    while i < n {
      let b0 = bytes[i]
      if b0 < 0x80 {
        scalars.append(Unicode.Scalar(b0))
        i += 1
        continue
      }
      // Expected length and the allowed range of the second byte (Table 3-7 of the Unicode standard).
      let length: Int
      var low: UInt8 = 0x80
      var high: UInt8 = 0xBF
      switch b0 {
      case 0xC2...0xDF: length = 2
      case 0xE0:
        length = 3
        low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED:
        length = 3
        high = 0x9F
      case 0xF0:
        length = 4
        low = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4:
        length = 4
        high = 0x8F
      default: length = 0
      }
      if length == 0 {
        scalars.append("\u{FFFD}")
        i += 1
        continue
      }
      var value = UInt32(b0) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
      var consumed = 1
      while consumed < length {
        guard i + consumed < n else { break }
        let b = bytes[i + consumed]
        let (lo, hi) = consumed == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
        guard b >= lo && b <= hi else { break }
        value = (value << 6) | UInt32(b & 0x3F)
        consumed += 1
      }
      if consumed == length, let scalar = Unicode.Scalar(value) {
        scalars.append(scalar)
      } else {
        scalars.append("\u{FFFD}")
      }
      i += consumed
    }
    return String(scalars)
  }
}
