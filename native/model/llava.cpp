// LLaVA forward passes, on the model's backend. Legend: see llava.h; R packed rows of a pass, C logit rows per chunk.
#include "model/llava.h"

#include <algorithm>

#include "model/call_buffers.h"
#include "model/projector.h"
#include "model/vision_tower.h"

namespace stic::model {

Result<std::shared_ptr<LlavaModel>> LlavaModel::load(Backend& backend, const LlavaConfig& cfg,
                                                     const std::vector<io::TensorSource>& sources, bool forceF32,
                                                     const std::vector<LoraDelta>& adapter, double alpha) {
  const Ops& ops = backend.ops();
  STIC_RETURN_IF_ERROR(requireOps(ops, "the LLaVA model"));
  WeightLoadOptions opt;
  opt.forceF32 = forceF32;
  for (const LoraDelta& d : adapter) opt.writable.push_back(d.weight);
  auto w = loadLlavaWeights(backend, cfg, sources, opt);
  if (!w.isOk()) return w.status();
  STIC_RETURN_IF_ERROR(mergeLora(ops, *w.value(), cfg, adapter, alpha).withContext("applying the adapter"));
  auto m = std::make_shared<LlavaModel>();
  m->backend_ = &backend;
  m->cfg_ = cfg;
  m->w_ = w.take();
  m->decoder_ = decoderView(m->w_->decoder);
  return m;
}

Status validateSequence(const LlavaConfig& cfg, const Sequence& seq, const std::vector<std::vector<int64_t>>& tokenRows,
                        const std::string& where) {
  const int64_t V = cfg.decoder.vocabSize, N = static_cast<int64_t>(tokenRows.size());
  STIC_CHECK_ARG(!seq.ids.empty(), where, ": expected at least one token id but found none");
  int64_t imageTokens = 0;
  for (size_t t = 0; t < seq.ids.size(); t++) {
    int64_t id = seq.ids[t];
    if (id == cfg.imageTokenId) {
      imageTokens++;
      continue;
    }
    STIC_CHECK_ARG(id >= 0 && id < V, where, ": token id ", id, " at position ", t, " is outside the vocabulary [0, ", V, ")");
  }
  for (int64_t k : seq.images) {
    STIC_CHECK_ARG(k >= 0 && k < N, where, ": image index ", k, " is out of range for a batch of ", N, " image(s)");
  }
  return validateImageTokenCount(cfg, seq.images, tokenRows, imageTokens, where);
}

Status validateImageTokenCount(const LlavaConfig& cfg, const std::vector<int64_t>& images,
                               const std::vector<std::vector<int64_t>>& tokenRows, int64_t found, const std::string& where) {
  // "for 2 image(s) x 576" when the images have one count (single tiles), "(37 + 51)" otherwise.
  int64_t expected = 0;
  std::string counts;
  bool same = true;
  for (int64_t k : images) {
    const int64_t n = static_cast<int64_t>(tokenRows[k].size());
    same = same && n == static_cast<int64_t>(tokenRows[images[0]].size());
    expected += n;
    counts += (counts.empty() ? "" : " + ") + std::to_string(n);
  }
  const int64_t each = images.empty() ? cfg.imageTokenCount : static_cast<int64_t>(tokenRows[images[0]].size());
  STIC_CHECK_ARG(found == expected, where, ": expected ", expected, " image tokens (id ", cfg.imageTokenId, ") for ", images.size(),
                 " image(s)", same ? " x " + std::to_string(each) : " (" + counts + ")", " but found ", found);
  return Status::ok();
}

Status LlavaModel::encodeImages(float* features, std::vector<std::vector<float>>* hidden, const ImageBatch& images) const {
  const VisionConfig& v = cfg_.vision;
  const int64_t N = images.crops;
  const float* pixels = images.pixels;
  fillNewlineRow(ops(), features, images, cfg_, w_->imageNewline.defined() ? w_->imageNewline.data<float>() : nullptr);
  const int64_t chunk = std::min<int64_t>(N, kImageChunk);
  if (N == 0) return ops().check();
  const int64_t T = v.tokens(), Dv = v.hiddenSize, S = v.imageSize, Ti = v.featureTokens(), D = cfg_.decoder.hiddenSize;
  const int64_t lastIndex = hidden ? v.numLayers : v.featureIndex();
  if (hidden) hidden->assign(v.numLayers + 1, std::vector<float>(N * T * Dv));
  ArenaPlan plan;
  planVisionActs(plan, v, chunk, lastIndex, VisionPass::Infer);
  planProjectorActs(plan, cfg_, chunk * Ti, ProjectorPass::Infer);
  auto arena = Arena::create(backend(), Lifetime::Scratch, plan);
  if (!arena.isOk()) return arena.status().withContext("vision tower");
  Arena& a = *arena.value();
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {  // a few images at a time bounds the scratch memory
    const int64_t n = std::min(chunk, N - n0);
    a.reset();
    auto tower = carveVisionActs(a, v, n, lastIndex, VisionPass::Infer);
    if (!tower.isOk()) return tower.status();
    auto proj = carveProjectorActs(a, cfg_, n * Ti, ProjectorPass::Infer);
    if (!proj.isOk()) return proj.status();
    std::vector<float*> hid;
    if (hidden) {
      for (auto& h : *hidden) hid.push_back(h.data() + n0 * T * Dv);
    }
    visionForward(ops(), tower.value(), pixels + n0 * 3 * S * S, w_->vision, v, hidden ? &hid : nullptr);
    const float* selected = hidden ? hid[v.featureIndex()] : tower.value().state();
    projectImageFeatures(ops(), features + n0 * Ti * D, selected, proj.value(), w_->projector, cfg_, n);
  }
  return ops().check();
}

namespace {

std::vector<int64_t> lengthsOf(const std::vector<const Sequence*>& seqs) {
  std::vector<int64_t> out;
  for (const Sequence* s : seqs) out.push_back(static_cast<int64_t>(s->ids.size()));
  return out;
}

// Encodes the images, then runs packed decoder passes over the sequences (no KV cache) and calls
// onPass(begin, end, rowOf) after each, with x holding the final hidden states of items
// [begin, end) and rowOf[i - begin] the packed row of item i's first token.
template <typename OnPass>
Status forEachPass(const LlavaModel& m, const ImageBatch& images, const std::vector<const Sequence*>& seqs, int64_t logitRows,
                   OnPass onPass) {
  const LlavaConfig& cfg = m.config();
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const std::vector<std::vector<int64_t>> tokenRows = imageTokenRows(images, cfg);
  for (size_t i = 0; i < seqs.size(); i++) STIC_RETURN_IF_ERROR(m.validate(*seqs[i], tokenRows, "items[" + std::to_string(i) + "]"));
  std::vector<int64_t> lengths = lengthsOf(seqs);
  auto groups = packGroups(lengths, kPassTokenBudget);
  int64_t maxRows = 0;
  for (auto [b, e] : groups) {
    int64_t rows = 0;
    for (size_t i = b; i < e; i++) rows += lengths[i];
    maxRows = std::max(maxRows, rows);
  }
  auto bufs = CallBuffers::create(m.backend(), cfg, images.featureRows(cfg), maxRows, logitRows);
  if (!bufs.isOk()) return bufs.status();
  CallBuffers& cb = bufs.value();
  STIC_RETURN_IF_ERROR(m.encodeImages(cb.features, nullptr, images));
  for (auto [b, e] : groups) {
    PassLayout layout;
    std::vector<int64_t> rowOf;
    for (size_t i = b; i < e; i++) rowOf.push_back(appendSequence(layout, seqs[i]->ids, seqs[i]->images, cfg.imageTokenId, tokenRows));
    embedPass(m.ops(), cb.x, layout, cb.features, m.decoder().embed, cfg.decoder.hiddenSize);
    STIC_RETURN_IF_ERROR(decoderForward(m.ops(), cb.x, layout, m.decoder(), cfg.decoder, LoraUse{}, nullptr, cb.dec));
    STIC_RETURN_IF_ERROR(onPass(b, e, rowOf, cb));
  }
  return Status::ok();
}

}  // namespace

Status LlavaModel::logits(std::vector<std::vector<float>>& out, const ImageBatch& images, const std::vector<Sequence>& seqs) const {
  const int64_t V = cfg_.decoder.vocabSize;
  std::vector<const Sequence*> ptrs;
  for (const Sequence& s : seqs) ptrs.push_back(&s);
  out.assign(seqs.size(), {});
  return forEachPass(*this, images, ptrs, kLogitChunk, [&](size_t b, size_t e, const std::vector<int64_t>& rowOf, CallBuffers& cb) {
    for (size_t i = b; i < e; i++) {
      const int64_t T = static_cast<int64_t>(seqs[i].ids.size());
      out[i].resize(T * V);
      std::vector<int64_t> rows(T);
      for (int64_t t = 0; t < T; t++) rows[t] = rowOf[i - b] + t;
      for (int64_t t0 = 0; t0 < T; t0 += kLogitChunk) {
        const int64_t n = std::min(kLogitChunk, T - t0);
        decoderLogits(ops(), out[i].data() + t0 * V, cb.logitScratch, cb.x, rows.data() + t0, n, decoder_, cfg_.decoder);
      }
    }
    return ops().check();
  });
}

Status LlavaModel::logprobs(std::vector<std::vector<float>>& out, const ImageBatch& images,
                            const std::vector<ScoredSequence>& items) const {
  const int64_t V = cfg_.decoder.vocabSize;
  std::vector<const Sequence*> ptrs;
  for (size_t i = 0; i < items.size(); i++) {
    const ScoredSequence& it = items[i];
    const int64_t T = static_cast<int64_t>(it.seq.ids.size());
    STIC_CHECK_ARG(it.responseStart >= 1 && it.responseStart < T, "items[", i, "]: expected responseStart in [1, ", T,
                   ") (at least one prompt token and one response token) but found ", it.responseStart);
    ptrs.push_back(&it.seq);
  }
  out.assign(items.size(), {});
  return forEachPass(*this, images, ptrs, kLogitChunk, [&](size_t b, size_t e, const std::vector<int64_t>& rowOf, CallBuffers& cb) {
    // Row t's logits predict token t + 1: rows [start - 1, T - 1) score ids[start:].
    std::vector<int64_t> rows, targets;
    std::vector<std::pair<size_t, int64_t>> owner;  // (item, index in its output) per scored row
    for (size_t i = b; i < e; i++) {
      const auto& ids = items[i].seq.ids;
      const int64_t T = static_cast<int64_t>(ids.size()), start = items[i].responseStart;
      out[i].resize(T - start);
      for (int64_t t = start; t < T; t++) {
        rows.push_back(rowOf[i - b] + t - 1);
        targets.push_back(ids[t]);
        owner.emplace_back(i, t - start);
      }
    }
    const int64_t total = static_cast<int64_t>(rows.size());
    for (int64_t r0 = 0; r0 < total; r0 += kLogitChunk) {  // (C, V) logits at a time, never (R, V)
      const int64_t n = std::min(kLogitChunk, total - r0);
      decoderLogits(ops(), cb.logits, cb.logitScratch, cb.x, rows.data() + r0, n, decoder_, cfg_.decoder);
      ops().head.log_softmax_gather(cb.logp, cb.logits, targets.data() + r0, n, V);
      for (int64_t j = 0; j < n; j++) out[owner[r0 + j].first][owner[r0 + j].second] = cb.logp[j];
    }
    return ops().check();
  });
}

std::vector<std::pair<size_t, size_t>> packGroups(const std::vector<int64_t>& lengths, int64_t budget) {
  std::vector<std::pair<size_t, size_t>> groups;
  size_t begin = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < lengths.size(); i++) {
    if (i > begin && tokens + lengths[i] > budget) {
      groups.emplace_back(begin, i);
      begin = i;
      tokens = 0;
    }
    tokens += lengths[i];
  }
  if (begin < lengths.size()) groups.emplace_back(begin, lengths.size());
  return groups;
}

}  // namespace stic::model
