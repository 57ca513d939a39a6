// Read-time filters from the side data, applied as rows are delivered (never when extracting):
//
// - special tokens: rows whose token id is excluded are dropped (SAELens `exclude_special_tokens`,
//   training/activations_store.py `_filter_buffer_acts`: by id, wherever the token sits). The
//   default list is the source's (a job's BOS/separator ids from plan.json) plus any the caller
//   adds (the CLI adds the tokenizer's BOS/EOS/pad from the job's model);
// - norm outliers: rows where any hook's L2 norm exceeds `maxNormMultiple` × that hook's median
//   norm are dropped (the attention-sink and newline tokens, ~100× the median on SmolLM2 layer 15).
//   The median is estimated once, deterministically: the norms of the first `medianSampleRows`
//   non-special rows of the training units in plan order (upper median).
// A row that is both special and an outlier counts as special. Filters never move the cursor:
// positions are counted before filtering, so what is kept stays a pure function of (seed, p).

/// Which rows the stream drops.
public struct FilterConfig: Sendable, Hashable {
  /// Token ids to drop; nil: the source's default special tokens (see `ActivationSource`).
  public var excludedTokenIDs: [Int]?
  /// Token ids dropped in addition (e.g. the tokenizer's BOS, EOS and pad ids).
  public var additionalExcludedTokenIDs: [Int]
  /// Drop rows whose norm exceeds this multiple of the median norm (per hook); nil keeps them.
  public var maxNormMultiple: Float?
  /// Rows sampled (in plan order) to estimate the median norms.
  public var medianSampleRows: Int

  public init(
    excludedTokenIDs: [Int]? = nil, additionalExcludedTokenIDs: [Int] = [], maxNormMultiple: Float? = 10,
    medianSampleRows: Int = 65_536
  ) {
    self.excludedTokenIDs = excludedTokenIDs
    self.additionalExcludedTokenIDs = additionalExcludedTokenIDs
    self.maxNormMultiple = maxNormMultiple
    self.medianSampleRows = medianSampleRows
  }

  /// Keeps every row.
  public static let keepAll = FilterConfig(excludedTokenIDs: [], maxNormMultiple: nil)
}

/// Rows seen and why rows were dropped, over a range of stream positions.
public struct FilterCounts: Sendable, Hashable, CustomStringConvertible {
  /// Positions covered (rows before filtering).
  public var positions = 0
  /// Rows delivered.
  public var kept = 0
  /// Rows dropped for an excluded token id.
  public var specialTokens = 0
  /// Rows dropped for a norm above the limit.
  public var normOutliers = 0

  public init(positions: Int = 0, kept: Int = 0, specialTokens: Int = 0, normOutliers: Int = 0) {
    self.positions = positions
    self.kept = kept
    self.specialTokens = specialTokens
    self.normOutliers = normOutliers
  }

  public static func + (a: FilterCounts, b: FilterCounts) -> FilterCounts {
    FilterCounts(
      positions: a.positions + b.positions, kept: a.kept + b.kept,
      specialTokens: a.specialTokens + b.specialTokens,
      normOutliers: a.normOutliers + b.normOutliers)
  }

  public var description: String {
    "\(positions) rows: \(kept) kept, \(specialTokens) special tokens, \(normOutliers) norm outliers dropped"
  }
}

/// A resolved filter: the excluded ids and the per-hook norm limits.
public struct RowFilter: Sendable, Hashable {
  /// Excluded token ids, ascending.
  public let excludedTokenIDs: [Int32]
  /// Median norm per hook (inputs, then targets), or empty when the norm filter is off.
  public let medianNorms: [Float]
  /// Norm limit per hook (maxNormMultiple × median), or empty when off.
  public let normLimits: [Float]
  private let excluded: Set<Int32>

  /// Why a row is dropped.
  enum Verdict: UInt8 {
    case keep = 0
    case special = 1
    case outlier = 2
  }

  /// Resolves `config` for `source`, estimating medians from `sampleUnits` (plan order).
  init(config: FilterConfig, source: some ActivationSource, sampleUnits: [DataUnit]) throws {
    let ids =
      (config.excludedTokenIDs.map { $0.compactMap { Int32(exactly: $0) } } ?? source.defaultExcludedTokenIDs)
      + config.additionalExcludedTokenIDs.compactMap { Int32(exactly: $0) }
    let excluded = Set(ids)
    self.excluded = excluded
    excludedTokenIDs = excluded.sorted()
    guard let multiple = config.maxNormMultiple else {
      medianNorms = []
      normLimits = []
      return
    }
    guard multiple > 0, config.medianSampleRows >= 1 else {
      throw DataError.invalidSetting(
        name: "norm filter",
        reason: "multiple \(multiple) and sample \(config.medianSampleRows) must be positive")
    }
    let hookCount = source.inputHooks.count + source.targetHooks.count
    var samples = [[Float]](repeating: [], count: hookCount)
    for unit in sampleUnits where samples[0].count < config.medianSampleRows {
      let side = try source.readSide(unit: unit, rows: 0..<unit.rowCount)
      for i in 0..<unit.rowCount where samples[0].count < config.medianSampleRows {
        if let tokens = side.tokenIDs, excluded.contains(tokens[i]) { continue }
        for h in 0..<hookCount { samples[h].append(side.norms[h][i]) }
      }
    }
    guard !samples[0].isEmpty else {
      throw DataError.empty(subject: source.name, reason: "no row is left to estimate the median norm from")
    }
    medianNorms = samples.map { $0.sorted()[$0.count / 2] }
    normLimits = medianNorms.map { $0 * multiple }
  }

  /// The verdict on row `i` of `side`.
  @inline(__always)
  func verdict(_ side: RowSide, _ i: Int) -> Verdict {
    if let tokens = side.tokenIDs, !excluded.isEmpty, excluded.contains(tokens[i]) { return .special }
    for h in normLimits.indices where !(side.norms[h][i] <= normLimits[h]) { return .outlier }
    return .keep
  }

  /// Verdicts for every row of `side` (count rows).
  func verdicts(_ side: RowSide, count: Int) -> [UInt8] {
    (0..<count).map { verdict(side, $0).rawValue }
  }
}

extension FilterCounts {
  mutating func add(_ verdict: UInt8) {
    positions += 1
    switch verdict {
    case RowFilter.Verdict.keep.rawValue: kept += 1
    case RowFilter.Verdict.special.rawValue: specialTokens += 1
    default: normOutliers += 1
    }
  }
}
