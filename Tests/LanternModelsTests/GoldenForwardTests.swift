// The forward pass against Hugging Face: tiny seeded GPT-2, Llama (GQA) and Qwen2 models, from
// safetensors and from GGUF (F32 and Q8_0), every hook point and the logits, compared with
// goldens that Scripts/fixtures/make_model_fixtures.py wrote from transformers + PyTorch.

import Foundation
import LanternFormats
import LanternModels
import LanternTensor
import LanternTestSupport
import Testing

let pool = ThreadPool(threadCount: 2)

struct Golden {
  let file: SafetensorsFile
  let tokens: [Int32]
  let batch: Int
  let seqLen: Int

  init(_ relative: String, prefix: String = "") throws {
    file = try SafetensorsFile(path: Fixtures.url(relative).path)
    let name = prefix.isEmpty ? "tokens" : "tokens.\(prefix)"
    let shape = try file.shape(of: name)
    tokens = try file.int32Values(name)
    batch = shape[0]
    seqLen = shape[1]
  }

  func tensor(_ name: String) throws -> Tensor { try file.loadTensor(name) }
  var hookNames: [String] { file.tensorNames.filter { !["tokens", "logits", "loss"].contains($0) } }
}

/// Compares `actual` with `expected` element-wise; tolerance relative to the reference's scale.
func expectClose(_ actual: Tensor, _ expected: Tensor, tol: Float = 1e-4, _ what: String) {
  #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)")
  guard actual.count == expected.count else { return }
  let (diff, scale) = maxAbsDifference(actual.buffer, expected.buffer)
  #expect(diff <= tol * max(1, scale), "\(what): max |Δ| \(diff), scale \(scale)")
}

struct Case: CustomTestStringConvertible, Sendable {
  let model: String
  let golden: String
  var testDescription: String { model }
}

let cases = [
  Case(model: "models/tiny-gpt2", golden: "models/tiny-gpt2/golden.safetensors"),
  Case(model: "models/tiny-llama", golden: "models/tiny-llama/golden.safetensors"),
  Case(model: "models/tiny-qwen2", golden: "models/tiny-qwen2/golden.safetensors"),
  Case(model: "models/tiny-llama-f32.gguf", golden: "models/tiny-llama/golden.safetensors"),
  Case(model: "models/tiny-llama-q8_0.gguf", golden: "models/tiny-llama-q8_0.golden.safetensors"),
]

@Test(arguments: cases)
func everyHookAndLogitsMatchHuggingFace(_ c: Case) throws {
  let model = try ModelRegistry.load(path: Fixtures.url(c.model).path, pool: pool)
  let golden = try Golden(c.golden)
  // The golden file covers exactly the hook points Lantern exposes for this architecture.
  #expect(Set(golden.hookNames) == Set(HookPoint.all(for: model.config)))
  let store = ActivationStore()
  var hooks = Hooks()
  hooks.capture(golden.hookNames, into: store)
  let logits = try #require(
    try model.forward(tokens: golden.tokens, batch: golden.batch, seqLen: golden.seqLen, hooks: hooks))
  expectClose(logits, try golden.tensor("logits"), "\(c.model) logits")
  for name in golden.hookNames {
    let got = try #require(store[name], "\(name) not captured")
    expectClose(got, try golden.tensor(name), "\(c.model) \(name)")
  }
  let loss = model.nextTokenLoss(
    logits: logits, tokens: golden.tokens, batch: golden.batch, seqLen: golden.seqLen)
  expectClose(
    Tensor(shape: [golden.batch, golden.seqLen - 1], values: loss), try golden.tensor("loss"), "loss")
}

@Test func stoppingEarlySkipsLaterLayersAndLogits() throws {
  let model = try ModelRegistry.load(path: Fixtures.url("models/tiny-llama").path, pool: pool)
  let golden = try Golden("models/tiny-llama/golden.safetensors")
  let store = ActivationStore()
  var hooks = Hooks()
  hooks.capture([HookPoint.residPost(1)], into: store)
  let logits = try model.forward(
    tokens: golden.tokens, batch: golden.batch, seqLen: golden.seqLen, stopAfterLayer: 1, hooks: hooks)
  #expect(logits == nil)
  expectClose(
    try #require(store[HookPoint.residPost(1)]), try golden.tensor(HookPoint.residPost(1)), "resid_post 1")
  var late = Hooks()
  late.zeroAblate(HookPoint.residPost(2))
  #expect(throws: ModelError.hookBeyondStop(name: HookPoint.residPost(2), layer: 2, stopAfter: 1)) {
    try model.forward(
      tokens: golden.tokens, batch: golden.batch, seqLen: golden.seqLen, stopAfterLayer: 1, hooks: late)
  }
}

@Test func writeHooksFlowThroughTheModel() throws {
  let model = try ModelRegistry.load(path: Fixtures.url("models/tiny-gpt2").path, pool: pool)
  let g = try Golden("models/tiny-gpt2/golden.safetensors")
  // Zero-ablating the attention output makes resid_mid equal resid_pre, exactly.
  let store = ActivationStore()
  var hooks = Hooks()
  hooks.zeroAblate(HookPoint.attnOut(0))
  hooks.capture([HookPoint.residPre(0), HookPoint.residMid(0)], into: store)
  _ = try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen, hooks: hooks)
  #expect(store[HookPoint.residPre(0)]!.array == store[HookPoint.residMid(0)]!.array)

  // Writing the reference values back at the norm, the pattern and q leaves the logits unchanged
  // (exercises the write-back paths: re-applied affine weights, materialized attention, strided q).
  var patch = Hooks()
  for name in [HookPoint.ln1Normalized(1), HookPoint.pattern(0), HookPoint.q(1), HookPoint.mlpPre(0)] {
    patch.replace(name, with: try g.tensor(name))
  }
  let patched = try #require(
    try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen, hooks: patch))
  expectClose(patched, try g.tensor("logits"), "logits after identity patches")

  // A uniform causal pattern makes z the running mean of v over the prefix.
  var uniform = Hooks()
  let zStore = ActivationStore()
  uniform.add(HookPoint.pattern(0)) { act in
    let t = act.shape[3]
    for r in 0..<(act.values.count / t) {
      let i = r % t
      for j in 0..<t { act.values[r * t + j] = j <= i ? 1 / Float(i + 1) : 0 }
    }
  }
  uniform.capture([HookPoint.v(0), HookPoint.z(0)], into: zStore)
  _ = try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen, hooks: uniform)
  let v = zStore[HookPoint.v(0)]!
  let z = zStore[HookPoint.z(0)]!
  let (b, t, h, d) = (v.shape[0], v.shape[1], v.shape[2], v.shape[3])
  var worst: Float = 0
  for bi in 0..<b {
    for hi in 0..<h {
      for di in 0..<d {
        var sum: Float = 0
        for ti in 0..<t {
          sum += v.pointer[((bi * t + ti) * h + hi) * d + di]
          worst = max(worst, abs(sum / Float(ti + 1) - z.pointer[((bi * t + ti) * h + hi) * d + di]))
        }
      }
    }
  }
  #expect(worst < 1e-5)
}

@Test func badInputsAreClearErrors() throws {
  let model = try ModelRegistry.load(path: Fixtures.url("models/tiny-gpt2").path, pool: pool)
  var unknown = Hooks()
  unknown.zeroAblate("blocks.0.attn.hook_rot_q")  // GPT-2 has no rotary hooks
  #expect(throws: ModelError.unknownHook(name: "blocks.0.attn.hook_rot_q", architecture: "gpt2")) {
    try model.forward(tokens: [1, 2], batch: 1, seqLen: 2, hooks: unknown)
  }
  #expect(
    throws: ModelError.tokenOutOfRange(index: 1, id: Int32(model.config.dVocab), vocab: model.config.dVocab)
  ) {
    try model.forward(tokens: [1, Int32(model.config.dVocab)], batch: 1, seqLen: 2)
  }
  #expect(throws: ModelError.sequenceTooLong(length: model.config.nCtx + 1, maximum: model.config.nCtx)) {
    try model.forward(
      tokens: [Int32](repeating: 1, count: model.config.nCtx + 1), batch: 1, seqLen: model.config.nCtx + 1)
  }
}

@Test func sameInputGivesSameBytes() throws {
  let model = try ModelRegistry.load(path: Fixtures.url("models/tiny-llama").path, pool: pool)
  let g = try Golden("models/tiny-llama/golden.safetensors")
  let a = try #require(try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen))
  let b = try #require(try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen))
  #expect(a.array == b.array)
}
