// SmolLM2-135M-Instruct (the real default model, Q4_1 GGUF) against transformers loading the
// same GGUF: logits and blocks.15.hook_resid_post, compared per token relative to that token's
// own scale (the first position and some newline tokens carry residual norms ~100× the median).
// Skips loudly when the model has not been fetched (Scripts/fetch-model).

import Foundation
import LanternFormats
import LanternModels
import LanternTensor
import LanternTestSupport
import Testing

@Test func smolLM2MatchesTransformers() throws {
  guard let path = Fixtures.smolLM2GGUF else {
    print(
      "⚠️⚠️⚠️ SKIPPED smolLM2MatchesTransformers: the SmolLM2 GGUF is not fetched (run Scripts/fetch-model) ⚠️⚠️⚠️")
    return
  }
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
