#include "model/generation.h"

#include <algorithm>

namespace stic::model {

const char* finishName(Finish f) {
  switch (f) {
    case Finish::None: return "";
    case Finish::Eos: return "eos";
    case Finish::Length: return "length";
    case Finish::Stopped: return "stop";
  }
  return "";
}

Result<std::unique_ptr<Generation>> Generation::create(std::shared_ptr<const LlavaModel> model, std::vector<float> pixels,
                                                       std::vector<ImageLayout> layouts, std::vector<GenerationItem> items,
                                                       std::vector<int64_t> eosIds) {
  const LlavaConfig& cfg = model->config();
  const int64_t imageFloats = 3 * cfg.vision.imageSize * cfg.vision.imageSize;
  const int64_t C = static_cast<int64_t>(pixels.size()) / imageFloats;
  STIC_CHECK_ARG(static_cast<int64_t>(pixels.size()) == C * imageFloats, "pixels: expected a whole number of 3 x ", cfg.vision.imageSize,
                 " x ", cfg.vision.imageSize, " crops but found ", pixels.size(), " values");
  auto g = std::unique_ptr<Generation>(new Generation());
  g->images_.crops = C;
  g->images_.layouts = std::move(layouts);
  STIC_RETURN_IF_ERROR(validateImageBatch(g->images_, cfg));
  g->tokenRows_ = imageTokenRows(g->images_, cfg);
  STIC_CHECK_ARG(!items.empty(), "items: expected at least one generation item but found none");
  for (size_t i = 0; i < items.size(); i++) {
    std::string where = "items[" + std::to_string(i) + "]";
    STIC_RETURN_IF_ERROR(model->validate(items[i].prompt, g->tokenRows_, where));
    STIC_CHECK_ARG(items[i].maxNewTokens >= 1, where, ": expected maxNewTokens >= 1 but found ", items[i].maxNewTokens);
  }
  g->model_ = std::move(model);
  g->pixels_ = std::move(pixels);
  g->images_.pixels = g->pixels_.data();
  g->items_ = std::move(items);
  g->eos_ = std::move(eosIds);
  g->state_.resize(g->items_.size());
  return g;
}

bool Generation::done() const {
  return std::all_of(state_.begin(), state_.end(), [](const ItemState& s) { return s.finish != Finish::None; });
}

void Generation::stop(size_t i) {
  if (i < state_.size() && state_[i].finish == Finish::None) state_[i].finish = Finish::Stopped;
}

void Generation::accept(size_t i, const float* logits, std::vector<std::vector<int32_t>>& fresh) {
  ItemState& s = state_[i];
  const GenerationItem& item = items_[i];
  int64_t tok = model_->ops().sampling.sample_token(logits, model_->config().decoder.vocabSize, item.sampling,
                                                    static_cast<uint64_t>(s.generated), sampler_);
  if (std::find(eos_.begin(), eos_.end(), tok) != eos_.end()) {
    s.finish = Finish::Eos;
    return;
  }
  fresh[i].push_back(static_cast<int32_t>(tok));
  s.generated++;
  s.pending = tok;
  if (s.generated >= item.maxNewTokens) s.finish = Finish::Length;
}

Status Generation::runPass(const PassLayout& layout) {
  const DecoderConfig& cfg = model_->config().decoder;
  embedPass(model_->ops(), bufs_.x, layout, bufs_.features, model_->decoder().embed, cfg.hiddenSize);
  return decoderForward(model_->ops(), bufs_.x, layout, model_->decoder(), cfg, LoraUse{}, cache_.get(), bufs_.dec);
}

Status Generation::prefill(std::vector<std::vector<int32_t>>& fresh) {
  const LlavaConfig& cfg = model_->config();
  const int64_t V = cfg.decoder.vocabSize, B = static_cast<int64_t>(items_.size());
  std::vector<int64_t> lengths, capacities;
  for (const GenerationItem& it : items_) {
    lengths.push_back(static_cast<int64_t>(it.prompt.ids.size()));
    // The last new token is returned, never fed back, so it needs no cache row.
    capacities.push_back(lengths.back() + it.maxNewTokens - 1);
  }
  auto groups = packGroups(lengths, kPassTokenBudget);
  int64_t maxRows = B, maxGroup = 1;  // a decode step packs one row per item
  for (auto [b, e] : groups) {
    int64_t rows = 0;
    for (size_t i = b; i < e; i++) rows += lengths[i];
    maxRows = std::max(maxRows, rows);
    maxGroup = std::max<int64_t>(maxGroup, static_cast<int64_t>(e - b));
  }
  auto cache = KvCache::create(model_->backend(), cfg.decoder, capacities);
  if (!cache.isOk()) return cache.status();
  cache_ = cache.take();
  auto bufs = CallBuffers::create(model_->backend(), cfg, images_.featureRows(cfg), maxRows, std::max(B, maxGroup));
  if (!bufs.isOk()) return bufs.status();
  bufs_ = std::move(bufs.value());
  STIC_RETURN_IF_ERROR(model_->encodeImages(bufs_.features, nullptr, images_));
  std::vector<float>().swap(pixels_);
  images_.pixels = nullptr;

  for (auto [b, e] : groups) {
    PassLayout layout;
    std::vector<int64_t> lastRows;
    for (size_t i = b; i < e; i++) {
      const Sequence& prompt = items_[i].prompt;
      appendSequence(layout, prompt.ids, prompt.images, cfg.imageTokenId, tokenRows_, static_cast<int64_t>(i));
      lastRows.push_back(layout.rows() - 1);
      state_[i].cached = lengths[i];
    }
    STIC_RETURN_IF_ERROR(runPass(layout));
    const int64_t n = static_cast<int64_t>(e - b);
    decoderLogits(model_->ops(), bufs_.logits, bufs_.logitScratch, bufs_.x, lastRows.data(), n, model_->decoder(), cfg.decoder);
    for (size_t i = b; i < e; i++) accept(i, bufs_.logits + (i - b) * V, fresh);
  }
  prefilled_ = true;
  return Status::ok();
}

Status Generation::decodeStep(std::vector<std::vector<int32_t>>& fresh) {
  const LlavaConfig& cfg = model_->config();
  const int64_t V = cfg.decoder.vocabSize;
  PassLayout layout;
  std::vector<int64_t> rows;
  std::vector<size_t> who;
  for (size_t i = 0; i < items_.size(); i++) {
    ItemState& s = state_[i];
    if (s.finish != Finish::None) continue;
    rows.push_back(appendCachedToken(layout, s.pending, static_cast<int64_t>(i), s.cached));
    who.push_back(i);
    s.cached++;
  }
  if (who.empty()) return Status::ok();
  const int64_t B = static_cast<int64_t>(who.size());
  STIC_RETURN_IF_ERROR(runPass(layout));
  decoderLogits(model_->ops(), bufs_.logits, bufs_.logitScratch, bufs_.x, rows.data(), B, model_->decoder(), cfg.decoder);
  for (int64_t j = 0; j < B; j++) accept(who[j], bufs_.logits + j * V, fresh);
  return Status::ok();
}

Status Generation::step(int64_t maxTokens, std::vector<std::vector<int32_t>>& fresh) {
  STIC_CHECK_ARG(maxTokens >= 1, "step: expected maxTokens >= 1 but found ", maxTokens);
  fresh.assign(items_.size(), {});
  int64_t produced = 0;
  if (!prefilled_) {
    STIC_RETURN_IF_ERROR(prefill(fresh));
    produced = 1;
  }
  for (; produced < maxTokens && !done(); produced++) STIC_RETURN_IF_ERROR(decodeStep(fresh));
  return model_->ops().check();
}

}  // namespace stic::model
