// SmolLM2-135M-Instruct (the real default model, Q4_1 GGUF) against transformers loading the
// same GGUF: logits and blocks.15.hook_resid_post, compared per token relative to that token's
// own scale (the first position and some newline tokens carry residual norms ~100× the median).
// Reported as skipped when the model has not been fetched (Scripts/fetch-model); fails in CI then.

import Foundation
import LanternFormats
import LanternModels
import LanternTensor
import LanternTestSupport
import Testing

@Test(.enabled(if: Fixtures.runRealModelTests, "the SmolLM2 GGUF is not fetched (Scripts/fetch-model)"))
func smolLM2MatchesTransformers() throws {
  let path = try Fixtures.requireSmolLM2()
  let model = try ModelRegistry.load(path: path.path, pool: pool)
  let golden = try SafetensorsFile(path: Fixtures.url("models/smollm2/golden.safetensors").path)
  var prompts = 0
  for i in 0..<16 where golden.tensorNames.contains("tokens.\(i)") {
    prompts += 1
    let tokens = try golden.int32Values("tokens.\(i)")
    let t = tokens.count
    let store = ActivationStore()
    var hooks = Hooks()
    hooks.capture([HookPoint.residPost(15)], into: store)
    let logits = try #require(try model.forward(tokens: tokens, batch: 1, seqLen: t, hooks: hooks))
    let refLogits = try golden.loadTensor("logits.\(i)")
    let refResid = try golden.loadTensor("blocks.15.hook_resid_post.\(i)")
    let resid = store[HookPoint.residPost(15)]!
    for (got, ref, what) in [(logits, refLogits, "logits"), (resid, refResid, "resid_post 15")] {
      let width = ref.count / t
      for p in 0..<t {
        let (diff, scale) = maxAbsDifference(
          UnsafeBufferPointer(start: got.pointer + p * width, count: width),
          UnsafeBufferPointer(start: ref.pointer + p * width, count: width))
        #expect(diff <= 1e-4 * max(1, scale), "prompt \(i) position \(p) \(what): |Δ| \(diff) scale \(scale)")
      }
    }
    let loss = model.nextTokenLoss(logits: logits, tokens: tokens, batch: 1, seqLen: t)
    let refLoss = try golden.loadTensor("loss.\(i)").array
    for (a, b) in zip(loss, refLoss) { #expect(abs(a - b) < 1e-3, "prompt \(i) loss \(a) vs \(b)") }
  }
  #expect(prompts >= 3)
}

/// bf16 compute (oneDNN) where this machine has it: available when libdnnl2 loads and makes a bf16
/// matmul for this CPU (AMX or AVX512_BF16); elsewhere the test is reported as skipped.
let bf16Engine: BF16GEMM? = try? BF16GEMM(threads: 2)

/// `compute: bf16` against the fp32 Hugging Face reference: per token, the relative L2 error of
/// blocks.15.hook_resid_post and of the logits, the top-1 agreement and the loss difference. The
/// bounds are what bf16 operands allow (8-bit mantissas, fp32 accumulation), not fp32's 1e-4; the
/// measured figures are printed for BENCHMARKS.md.
@Test(.enabled(if: Fixtures.runRealModelTests && bf16Engine != nil, "no SmolLM2 GGUF or no oneDNN bf16 here"))
func smolLM2InBF16StaysCloseToTransformers() throws {
  let path = try Fixtures.requireSmolLM2()
  let bf16Pool = ThreadPool(threadCount: 2, bf16: try #require(bf16Engine))
  let model = try ModelRegistry.load(path: path.path, pool: bf16Pool)
  let golden = try SafetensorsFile(path: Fixtures.url("models/smollm2/golden.safetensors").path)
  var worst: [String: Double] = [:]
  var agree = 0
  var positions = 0
  var worstLoss = 0.0
  for i in 0..<16 where golden.tensorNames.contains("tokens.\(i)") {
    let tokens = try golden.int32Values("tokens.\(i)")
    let t = tokens.count
    let store = ActivationStore()
    var hooks = Hooks()
    hooks.capture([HookPoint.residPost(15)], into: store)
    let logits = try #require(try model.forward(tokens: tokens, batch: 1, seqLen: t, hooks: hooks))
    let pairs = [
      (logits, try golden.loadTensor("logits.\(i)"), "logits"),
      (
        store[HookPoint.residPost(15)]!, try golden.loadTensor("blocks.15.hook_resid_post.\(i)"),
        "resid_post 15"
      ),
    ]
    for (got, ref, what) in pairs {
      let width = ref.count / t
      for p in 0..<t {
        var err = 0.0
        var norm = 0.0
        var bestGot = 0
        var bestRef = 0
        for j in 0..<width {
          let a = Double(got.pointer[p * width + j])
          let b = Double(ref.pointer[p * width + j])
          err += (a - b) * (a - b)
          norm += b * b
          if got.pointer[p * width + j] > got.pointer[p * width + bestGot] { bestGot = j }
          if ref.pointer[p * width + j] > ref.pointer[p * width + bestRef] { bestRef = j }
        }
        worst[what] = max(worst[what] ?? 0, (err / max(norm, 1e-30)).squareRoot())
        if what == "logits" {
          positions += 1
          if bestGot == bestRef { agree += 1 }
        }
      }
    }
    let loss = model.nextTokenLoss(logits: logits, tokens: tokens, batch: 1, seqLen: t)
    for (a, b) in zip(loss, try golden.loadTensor("loss.\(i)").array) {
      worstLoss = max(worstLoss, Double(abs(a - b)))
    }
  }
  print(
    "bf16 vs HF fp32 (\(bf16Engine!.implementation)): worst per-token relative L2 error \(worst), top-1 agreement "
      + "\(agree)/\(positions), worst per-token loss difference \(worstLoss)")
  #expect(positions > 0)
  #expect((worst["resid_post 15"] ?? 1) < 0.03)
  #expect((worst["logits"] ?? 1) < 0.08)
  #expect(Double(agree) >= 0.9 * Double(positions))
  #expect(worstLoss < 0.5)
}
