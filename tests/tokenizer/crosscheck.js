'use strict';
// Reference side of the tokenizer cross-check: Hugging Face's own tokenizers library (Rust, npm
// package `tokenizers`, offline) encodes a deterministic generated corpus with every fixture's
// tokenizer.json and with variants derived from them (other normalizer / pre-tokenizer /
// model options, extra added tokens). Writes into --out:
//   corpus.json                 {texts: [...], sweep_texts: [...]}
//   manifest.json               {variants: [{name, tokenizer, ids}]}
//   <name>.tokenizer.json       the tokenizer file of each variant
//   <name>.ids.json             {ids: [[...]], trunc_max_length, trunc_end: [[...]],
//                                trunc_start: [[...]], sweep_ids: [[...]] | null}
// tests/tokenizer/compare_ids.cpp then encodes the same texts with the C++ tokenizers.
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
  return v;
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
  for (const v of variants(a.data)) {
    const tokFile = v.name + '.tokenizer.json';
    const jsonText = JSON.stringify(v.json);
    fs.writeFileSync(path.join(a.out, tokFile), jsonText);
    const tok = Tokenizer.fromString(jsonText);
    tok.disableTruncation();
    tok.disablePadding();
    const enc = async (t, list) => {
      const out = [];
      for (const s of list) out.push((await t.encode(s)).getIds());
      return out;
    };
    const ids = await enc(tok, texts);
    const tEnd = Tokenizer.fromString(jsonText);
    tEnd.disablePadding();
    tEnd.setTruncation(truncMax, { direction: 'right' });
    const tStart = Tokenizer.fromString(jsonText);
    tStart.disablePadding();
    tStart.setTruncation(truncMax, { direction: 'left' });
    const rec = {
      tokenizer: tokFile,
      ids,
      trunc_max_length: truncMax,
      trunc_end: await enc(tEnd, texts),
      trunc_start: await enc(tStart, texts),
      sweep_ids: v.sweep ? await enc(tok, sweep) : null,
    };
    const idsFile = v.name + '.ids.json';
    fs.writeFileSync(path.join(a.out, idsFile), JSON.stringify(rec));
    manifest.variants.push({ name: v.name, tokenizer: tokFile, ids: idsFile });
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
