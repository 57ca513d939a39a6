// swift-tools-version:6.0
// Lantern: activation extraction and sparse-dictionary training for mechanistic interpretability.
// Targets follow ../shared/DESIGN.md; arrows point one way (tensor → kernels → formats/tokenizers → models → CLI).
import PackageDescription

/// Compute code needs FMA and F16C: without `-target-cpu haswell`, SIMD `addProduct` becomes libm calls
/// and every half-precision conversion a runtime call (see PLATFORM.md).
let computeSettings: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", "haswell", "-enforce-exclusivity=unchecked"])
]

let package = Package(
  name: "Lantern",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "lantern", targets: ["lantern"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    .systemLibrary(
      name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
    .systemLibrary(
      name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(
      name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
    .target(name: "CPUProbe", cSettings: [.unsafeFlags(["-O2"])]),
    .target(name: "COneDNN", linkerSettings: [.linkedLibrary("dl")]),
    .target(
      name: "LanternTensor", dependencies: ["CBLAS", "CPUProbe", "COneDNN"], swiftSettings: computeSettings),
    .target(name: "CSIMD", cSettings: [.unsafeFlags(["-O2"])]),
    .target(name: "LanternKernels", dependencies: ["LanternTensor", "CSIMD"], swiftSettings: computeSettings),
    .target(name: "LanternFormats", dependencies: ["LanternTensor"], swiftSettings: computeSettings),
    .target(name: "LanternTokenizers", dependencies: ["LanternFormats"], swiftSettings: computeSettings),
    .target(
      name: "LanternModels",
      dependencies: ["LanternTensor", "LanternKernels", "LanternFormats", "LanternTokenizers"],
      swiftSettings: computeSettings),
    .target(
      name: "LanternCompression", dependencies: ["CLZ4", "LanternTensor"],
      swiftSettings: computeSettings),
    .target(
      name: "LanternShards", dependencies: ["CLZ4", "CZlib", "LanternTensor", "LanternFormats"],
      swiftSettings: computeSettings),
    .target(name: "LanternWire", swiftSettings: computeSettings),
    .target(name: "LanternPipeline", dependencies: ["Yams"], swiftSettings: computeSettings),
    .target(
      name: "LanternDictionaries",
      dependencies: ["LanternTensor", "LanternKernels", "LanternFormats", "LanternShards"],
      swiftSettings: computeSettings),
    .target(
      name: "LanternExtraction",
      dependencies: ["LanternModels", "LanternShards", "LanternTokenizers", "LanternPipeline", "LanternFormats"],
      swiftSettings: computeSettings),
    .target(
      name: "LanternCluster",
      dependencies: [
        "CZeroMQ", "LanternWire", "LanternTransport", "LanternExtraction", "LanternShards", "LanternPipeline",
      ],
      swiftSettings: computeSettings),
    .target(name: "LanternTransport", dependencies: ["CZeroMQ"], swiftSettings: computeSettings),
    .executableTarget(
      name: "lantern",
      dependencies: [
        "LanternTensor", "LanternKernels", "LanternFormats", "LanternTokenizers", "LanternModels",
        "LanternCompression", "LanternTransport", "LanternShards", "LanternWire", "LanternPipeline", "LanternExtraction", "LanternCluster",
        "LanternDictionaries", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: computeSettings),
    .target(
      name: "LanternTestSupport",
      dependencies: ["LanternTensor", "LanternFormats"],
      path: "Tests/LanternTestSupport"),
    .testTarget(
      name: "LanternTensorTests", dependencies: ["LanternTensor", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternKernelsTests",
      dependencies: ["LanternKernels", "LanternTensor", "LanternFormats", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternFormatsTests",
      dependencies: ["LanternFormats", "LanternTensor", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternTokenizersTests",
      dependencies: ["LanternTokenizers", "LanternFormats", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternModelsTests",
      dependencies: ["LanternModels", "LanternFormats", "LanternTokenizers", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternShardsTests", dependencies: ["LanternShards", "LanternFormats", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternWireTests", dependencies: ["LanternWire", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternTransportTests", dependencies: ["LanternTransport", "CZeroMQ"], swiftSettings: computeSettings),
    .testTarget(
      name: "LanternDictionariesTests",
      dependencies: [
        "LanternDictionaries", "LanternKernels", "LanternTensor", "LanternFormats", "LanternShards",
        "LanternTestSupport",
      ],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternPipelineTests", dependencies: ["LanternPipeline", "LanternTestSupport"],
      swiftSettings: computeSettings),
    .testTarget(
      name: "LanternCLITests",
      dependencies: [
        "lantern", "LanternTestSupport", "LanternFormats", "LanternCompression", "LanternTransport", "LanternShards",
        "LanternWire", "CZeroMQ", .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: computeSettings),
  ]
)
