// Chat templates: the fixture's template rendered as transformers did, the built-in vicuna_v1 and
// mistral_instruct formats string for string, template selection, and every error message.
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type TemplateMessage, builtinTemplate, chatPromptIds, renderChat, selectChatTemplate } from '../../lib/model/chat_template.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { readJsonFile } from '../../lib/model/config_json.ts';
import { VICUNA_V1_SYSTEM } from '../../lib/model/templates/index.ts';
import { encodePrompt, expandImageTokens, loadTokenizer } from '../../lib/model/tokenizer.ts';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const llamaDir = path.resolve(testDir, '..', 'fixtures', 'hf', 'tokenizer-llama-style');
const fixtureChat = (readJsonFile(path.join(llamaDir, 'expected.json'), 'a test fixture') as { chat: { messages: TemplateMessage[]; text: string; ids: number[] } }).chat;

const user = (content: TemplateMessage['content']): TemplateMessage => ({ role: 'user', content });
const assistant = (content: string): TemplateMessage => ({ role: 'assistant', content });
const special = { bosToken: '<s>', eosToken: '</s>' };

describe('chat template: the fixture checkpoint', () => {
  const tok = loadTokenizer(llamaDir);

  it('renders the checkpoint template and encodes it to the transformers ids', () => {
    const template = selectChatTemplate({ checkpoint: tok.chatTemplate, family: 'llama' });
    expect(template.name).to.equal('checkpoint');
    const text = renderChat(fixtureChat.messages, { template, addGenerationPrompt: true, bosToken: tok.bosToken, eosToken: tok.eosToken });
    expect(text).to.equal(fixtureChat.text);
    const ids = encodePrompt(tok, text, { imageTokenId: 420 });
    expect(ids).to.deep.equal(fixtureChat.ids);
    // One image of 16 tokens: the placeholder becomes 16 positions.
    const expanded = expandImageTokens(ids, 420, 16, 1);
    expect(expanded.length).to.equal(fixtureChat.ids.length + 15);
    expect(expanded.filter((id) => id === 420).length).to.equal(16);
    const direct = chatPromptIds(tok, fixtureChat.messages, { template, addGenerationPrompt: true, imageTokenId: 420, tokensPerImage: 16, numImages: 1 });
    expect(direct).to.deep.equal(expanded);
    expect(() => chatPromptIds(tok, fixtureChat.messages, { template, imageTokenId: 420, tokensPerImage: 16, numImages: 2 })).to.throw(
      'Expected 2 image placeholders (token id 420), one per image, but found 1 in the prompt ids',
    );
  });

  it('omits the generation prompt when not asked', () => {
    const template = selectChatTemplate({ checkpoint: tok.chatTemplate, family: 'llama' });
    expect(renderChat(fixtureChat.messages, { template, ...special })).to.equal('USER: <image>\nDescribe the image. ');
  });
});

describe('chat template: built-in vicuna_v1 (LLaVA-1.5)', () => {
  const template = builtinTemplate('vicuna_v1');

  it('renders one image turn with the LLaVA system line', () => {
    expect(renderChat([user('<image>\nDescribe the image.')], { template, addGenerationPrompt: true, ...special })).to.equal(
      `${VICUNA_V1_SYSTEM} USER: <image>\nDescribe the image. ASSISTANT:`,
    );
    expect(VICUNA_V1_SYSTEM).to.equal(
      "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.",
    );
  });

  it('closes assistant turns with EOS and continues the conversation', () => {
    const messages = [user('<image>\nWhat is it?'), assistant('A red circle.'), user('Where?')];
    expect(renderChat(messages, { template, addGenerationPrompt: true, ...special })).to.equal(
      `${VICUNA_V1_SYSTEM} USER: <image>\nWhat is it? ASSISTANT: A red circle.</s>USER: Where? ASSISTANT:`,
    );
  });

  it('replaces the system line with a system message, and drops it when empty', () => {
    const sys: TemplateMessage = { role: 'system', content: 'Answer briefly.' };
    expect(renderChat([sys, user('Hi')], { template, addGenerationPrompt: true, ...special })).to.equal('Answer briefly. USER: Hi ASSISTANT:');
    expect(renderChat([{ role: 'system', content: '' }, user('Hi')], { template, addGenerationPrompt: true, ...special })).to.equal('USER: Hi ASSISTANT:');
  });

  it('renders content parts, an image part as <image> on its own line', () => {
    const messages = [user([{ type: 'image' }, { type: 'text', text: 'Describe.' }])];
    expect(renderChat(messages, { template, addGenerationPrompt: true, ...special })).to.equal(`${VICUNA_V1_SYSTEM} USER: <image>\nDescribe. ASSISTANT:`);
  });
});

describe('chat template: built-in mistral_instruct (LLaVA-1.6-Mistral)', () => {
  const template = builtinTemplate('mistral_instruct');

  it('wraps user turns in [INST] and closes answers with EOS', () => {
    const messages = [user('<image>\nWhat is it?'), assistant('A red circle.'), user('Where?')];
    expect(renderChat(messages, { template, addGenerationPrompt: true, ...special })).to.equal('[INST] <image>\nWhat is it? [/INST] A red circle.</s>[INST] Where? [/INST]');
  });

  it('folds a system message into the first user turn', () => {
    const messages: TemplateMessage[] = [{ role: 'system', content: 'Answer briefly.' }, user('Hi'), assistant('Hello.'), user('Bye')];
    expect(renderChat(messages, { template, ...special })).to.equal('[INST] Answer briefly.\n\nHi [/INST] Hello.</s>[INST] Bye [/INST]');
  });
});

describe('chat template: selection', () => {
  it('uses the built-in template of the decoder family when the checkpoint has none', () => {
    const llama = loadModelConfig(path.resolve(testDir, '..', 'fixtures', 'hf', 'llava-tiny-llama'));
    const mistral = loadModelConfig(path.resolve(testDir, '..', 'fixtures', 'hf', 'llava-tiny-mistral-gqa'));
    expect(selectChatTemplate({ checkpoint: null, family: llama.decoder.family })).to.deep.equal(builtinTemplate('vicuna_v1'));
    expect(selectChatTemplate({ checkpoint: null, family: mistral.decoder.family })).to.deep.equal(builtinTemplate('mistral_instruct'));
  });

  it('picks "default" from named templates, or the one named by the override', () => {
    const named = [
      { name: 'tool_use', template: 'T' },
      { name: 'default', template: 'D' },
    ];
    expect(selectChatTemplate({ checkpoint: named, family: 'llama' })).to.deep.equal({ name: 'default', source: 'D' });
    expect(selectChatTemplate({ checkpoint: named, family: 'llama', override: 'tool_use' })).to.deep.equal({ name: 'tool_use', source: 'T' });
    expect(selectChatTemplate({ checkpoint: 'C', family: 'llama', override: 'mistral_instruct' })).to.deep.equal(builtinTemplate('mistral_instruct'));
  });

  it('names the choices when a template cannot be chosen', () => {
    expect(() => selectChatTemplate({ checkpoint: [{ name: 'tool_use', template: 'T' }], family: 'llama', override: 'chatml' })).to.throw(
      'Expected one of "vicuna_v1", "mistral_instruct", "tool_use" for the chat template name but received "chatml"',
    );
    expect(() => selectChatTemplate({ checkpoint: [{ name: 'tool_use', template: 'T' }], family: 'llama' })).to.throw(
      'Expected a chat template named "default" among the checkpoint\'s templates ("tool_use") but found none: choose one by name',
    );
  });
});

describe('chat template: errors', () => {
  const template = builtinTemplate('vicuna_v1');

  it('checks message shapes and names the message', () => {
    expect(() => renderChat([{ role: 'bot', content: 'x' } as unknown as TemplateMessage], { template })).to.throw(
      TypeError,
      'Expected one of "system", "user", "assistant" for messages[0].role but received "bot"',
    );
    expect(() => renderChat([user('a'), { role: 'assistant', content: 7 } as unknown as TemplateMessage], { template })).to.throw(
      TypeError,
      'Expected a string or a list of {type: "image"} / {type: "text", text} parts for messages[1].content but received 7',
    );
    expect(() => renderChat('hi' as unknown as TemplateMessage[], { template })).to.throw(TypeError, 'Expected an array for messages but received "hi"');
  });

  it('refuses conversations the built-in formats cannot express', () => {
    expect(() => renderChat([user('a'), user('b')], { template, ...special })).to.throw(
      'Chat template vicuna_v1 could not render the messages: Expected the conversation to alternate user/assistant turns (after an optional system message) but turn 1 is "user"',
    );
    expect(() => renderChat([assistant('a')], { template: builtinTemplate('mistral_instruct'), ...special })).to.throw(
      'Chat template mistral_instruct could not render the messages: Expected the conversation to alternate user/assistant turns (after an optional system message) but turn 0 is "assistant"',
    );
  });

  it('reports a template that does not parse, and raise_exception from a checkpoint template', () => {
    expect(() => renderChat([user('a')], { template: { name: 'checkpoint', source: '{% for m in messages %}' } })).to.throw(
      /^Expected a valid Jinja chat template \(checkpoint\) but parsing failed: .+/,
    );
    const strict = { name: 'checkpoint', source: "{% if messages | length > 1 %}{{ raise_exception('Only one message is supported') }}{% endif %}{{ messages[0].content }}" };
    expect(renderChat([user('a')], { template: strict })).to.equal('a');
    expect(() => renderChat([user('a'), assistant('b')], { template: strict })).to.throw('Chat template checkpoint could not render the messages: Only one message is supported');
  });
});
