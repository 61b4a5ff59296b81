/**
 * Deterministic synthetic Everflow records for the ingestion benchmark, in the shape of
 * test/fixtures/everflow/{conversions,clicks}.json (the Network API's raw conversion and
 * clicks/stream records, with the money fields as decimal text, as the lossless reader (shared/platforms/kit/json.ts) hands them on).
 *
 * Record i is a pure function of (seed, i): nothing is held in memory, any range can be rendered
 * again, and the pipeline and the ceiling runs load exactly the same rows. Records are rendered
 * straight to JSON text with template strings (no object + JSON.stringify), because the fetch
 * worker's serialization is not what is being measured.
 */

/** 32-bit integer hash (a splitmix/murmur finalizer): cheap, well mixed, stateless. */
export function h32(a: number, b: number): number {
  let x = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const HEX = '0123456789abcdef';
function hex8(x: number): string {
  let s = '';
  for (let k = 28; k >= 0; k -= 4) s += HEX[(x >>> k) & 15];
  return s;
}
/** 32 hex characters from (salt, i): an Everflow-style id. */
export function hex32(salt: number, i: number): string {
  return hex8(h32(salt, i)) + hex8(h32(salt + 1, i)) + hex8(h32(salt + 2, i)) + hex8(h32(salt + 3, i));
}

export const AFFILIATES = 200;
export const OFFERS = 50;
/** Each affiliate runs this many offers (1,000 affiliate × offer pairs in all). */
export const OFFERS_PER_AFFILIATE = 5;

/** A skewed affiliate (a few big partners, a long tail) and one of its offers. */
export function pairOf(i: number): { affiliate: number; offer: number; advertiser: number } {
  const u = h32(11, i) / 2 ** 32;
  const affiliate = 1 + Math.floor(AFFILIATES * u * u);
  const offer = 1 + ((affiliate * 7 + (h32(12, i) % OFFERS_PER_AFFILIATE)) % OFFERS);
  return { affiliate, offer, advertiser: 1 + (offer % 20) };
}

const COUNTRIES = ['United States', 'Canada', 'United Kingdom', 'Germany', 'France', 'Australia', 'Brazil', 'Mexico'];
const COUNTRY_CODES = ['US', 'CA', 'GB', 'DE', 'FR', 'AU', 'BR', 'MX'];
export const USER_AGENTS = Array.from(
  { length: 24 },
  (_, k) =>
    `Mozilla/5.0 (${['iPhone; CPU iPhone OS 17_5 like Mac OS X', 'Windows NT 10.0; Win64; x64', 'Linux; Android 14; Pixel 8', 'Macintosh; Intel Mac OS X 14_5'][k % 4]}) AppleWebKit/605.1.${k} (KHTML, like Gecko) Version/17.${k % 6} Safari/604.1`,
);
const STATUSES = [
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'approved',
  'pending',
  'pending',
  'rejected',
];

/** The fields both renderers (raw record, canonical row) derive from. */
export interface ConversionFields {
  conversionId: string;
  transactionId: string;
  orderId: string;
  convertedAt: number; // unix seconds
  clickedAt: number;
  affiliate: number;
  offer: number;
  advertiser: number;
  sub1: string;
  sub2: string;
  status: string;
  isEvent: boolean;
  payout: string;
  revenue: string;
  saleAmount: string;
  ip: string;
  country: number;
  ua: number;
  email: string | null;
}

export interface ClickFields {
  clickId: string;
  clickedAt: number;
  affiliate: number;
  offer: number;
  advertiser: number;
  sub1: string;
  sub2: string;
  ip: string;
  country: number;
  ua: number;
  isUnique: boolean;
}

function ipOf(salt: number, i: number): string {
  const x = h32(salt, i);
  return `${10 + (x >>> 28)}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
}

function money(x: number): string {
  return `${Math.floor(x / 100)}.${String(x % 100).padStart(2, '0')}`;
}

/** Record i of n spread evenly over [start, start + days) (sorted by time, as a report page is). */
function timeOf(i: number, n: number, startSec: number, days: number, salt: number): number {
  const span = days * 86_400;
  return startSec + Math.floor((i * span) / n) + (h32(salt, i) % Math.max(1, Math.floor(span / n)));
}

export function conversionFields(i: number, n: number, startSec: number, days: number): ConversionFields {
  const p = pairOf(i);
  const convertedAt = timeOf(i, n, startSec, days, 21);
  const r = h32(22, i);
  const payoutCents = 200 + (r % 4_800);
  return {
    conversionId: hex32(100, i),
    transactionId: hex32(200, i),
    orderId: `ORD-${(i * 7919 + 1_000_003).toString(36).toUpperCase()}`,
    convertedAt,
    clickedAt: convertedAt - (h32(23, i) % 86_400),
    affiliate: p.affiliate,
    offer: p.offer,
    advertiser: p.advertiser,
    sub1: `s1-${h32(24, i) % 100_000}`,
    sub2: String(p.affiliate),
    status: STATUSES[r % STATUSES.length],
    isEvent: h32(25, i) % 10 === 0,
    payout: money(payoutCents),
    revenue: money(payoutCents + 100 + (r % 1_000)),
    saleAmount: money(2_000 + (h32(26, i) % 50_000)),
    ip: ipOf(27, i),
    country: h32(28, i) % COUNTRIES.length,
    ua: h32(29, i) % USER_AGENTS.length,
    email: h32(30, i) % 3 === 0 ? `shopper${i}@example.com` : null,
  };
}

export function clickFields(i: number, n: number, startSec: number, days: number): ClickFields {
  const p = pairOf(i + 7_777_777);
  return {
    clickId: hex32(300, i),
    clickedAt: timeOf(i, n, startSec, days, 31),
    affiliate: p.affiliate,
    offer: p.offer,
    advertiser: p.advertiser,
    sub1: `s1-${h32(32, i) % 100_000}`,
    sub2: String(p.affiliate),
    ip: ipOf(33, i),
    country: h32(34, i) % COUNTRIES.length,
    ua: h32(35, i) % USER_AGENTS.length,
    isUnique: h32(36, i) % 10 !== 0,
  };
}

/** A raw conversion record as JSON text (the fields of test/fixtures/everflow/conversions.json). */
export function conversionJson(f: ConversionFields): string {
  return (
    `{"conversion_id":"${f.conversionId}","conversion_unix_timestamp":${f.convertedAt},"sub1":"${f.sub1}","sub2":"${f.sub2}","sub3":"","sub4":"","sub5":"","source_id":"",` +
    `"status":"${f.status}","payout_type":"cpa","revenue_type":"rpa","payout":"${f.payout}","revenue":"${f.revenue}","session_user_ip":"${f.ip}","conversion_user_ip":"198.51.100.20",` +
    `"country":"${COUNTRIES[f.country]}","region":"New York","city":"Brooklyn","dma":501,"carrier":"","platform":"iOS","os_version":"17.5","device_type":"Mobile","device_model":"iPhone",` +
    `"brand":"Apple","browser":"Safari","language":"en","http_user_agent":"${USER_AGENTS[f.ua]}","adv1":"${f.orderId}","adv2":"","adv3":"","adv4":"","adv5":"",` +
    `"is_event":${f.isEvent},"event":"${f.isEvent ? 'Upsell' : 'Base'}","notes":"","transaction_id":"${f.transactionId}","click_unix_timestamp":${f.clickedAt},"error_code":0,"error_message":"",` +
    `"sale_amount":"${f.saleAmount}","is_scrub":false,"coupon_code":"","order_id":"${f.orderId}","url":"","isp":"Example ISP","referer":"","app_id":"",` +
    `"idfa":"","idfa_md5":"","idfa_sha1":"","google_ad_id":"","google_ad_id_md5":"","google_ad_id_sha1":"","android_id":"","android_id_md5":"","android_id_sha1":"",` +
    `"currency_id":"USD","email":"${f.email ?? ''}","is_view_through":false,"previous_network_offer_id":0,"network_offer_payout_revenue_id":0,` +
    `"relationship":{"offer":{"network_offer_id":${f.offer},"network_id":1,"name":"Offer ${f.offer}","offer_status":"active"},` +
    `"advertiser":{"network_advertiser_id":${f.advertiser},"name":"Advertiser ${f.advertiser}","account_status":"active"},` +
    `"affiliate":{"network_affiliate_id":${f.affiliate},"name":"Affiliate ${f.affiliate}","account_status":"active"},"account_manager":{"first_name":"Ana","last_name":"Lee"}}}`
  );
}

/** A raw clicks/stream record as JSON text (the fields of test/fixtures/everflow/clicks.json). */
export function clickJson(f: ClickFields): string {
  return (
    `{"transaction_id":"${f.clickId}","is_unique":${f.isUnique ? 1 : 0},"unix_timestamp":${f.clickedAt},"tracking_url":"https://www.trk.example/abc/def/","url":"https://shop.example/landing",` +
    `"source_id":"","sub1":"${f.sub1}","sub2":"${f.sub2}","sub3":"","sub4":"","sub5":"","referer":"","user_ip":"${f.ip}","http_user_agent":"${USER_AGENTS[f.ua]}",` +
    `"payout":"0","payout_type":"cpa","revenue":"0","revenue_type":"rpa","currency_id":"USD","error_code":0,"error_message":"","error_filter_id":0,"is_view_through":false,` +
    `"is_test_mode":false,"is_async":false,"is_pass_through":false,"is_sdk_click":false,"has_conversion":false,"creative_id":0,"coupon_code":"","previous_network_offer_id":0,` +
    `"project_id":"","category_id":0,"redirect_method":"",` +
    `"relationship":{"offer":{"network_offer_id":${f.offer},"network_id":1,"network_advertiser_id":${f.advertiser},"network_offer_group_id":0,"network_tracking_domain_id":2,"name":"Offer ${f.offer}","offer_status":"active"},` +
    `"affiliate":{"network_affiliate_id":${f.affiliate},"name":"Affiliate ${f.affiliate}","account_status":"active"},` +
    `"geolocation":{"country_code":"${COUNTRY_CODES[f.country]}","country_name":"${COUNTRIES[f.country]}","region_code":"NY","region_name":"New York","city_name":"Brooklyn","dma":501,` +
    `"dma_name":"New York","carrier_name":"","isp_name":"Example ISP","organization":"","postal_code":"11201"}}}`
  );
}

/** The 32-hex MD5-like content stamp the ceiling rows carry in row_hash (its value does not matter to the server). */
export function fakeRowHash(i: number): string {
  return hex32(400, i);
}

export const COUNTRY_CODE_OF = COUNTRY_CODES;
