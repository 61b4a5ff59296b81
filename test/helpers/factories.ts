import type { ClickRow, ConversionRow } from '#shared/model/canonical.js';

/** A valid canonical conversion with overridable fields. */
export function conversionRow(o: Partial<ConversionRow> = {}): ConversionRow {
  return {
    conversion_id: 'c1',
    click_id: 'k1',
    transaction_id: 'tx1',
    order_id: 'o1',
    converted_at: '2026-10-12T10:15:00.000Z',
    clicked_at: '2026-10-12T10:00:00.000Z',
    affiliate_id: 'a1',
    offer_id: 'f1',
    advertiser_id: 'v1',
    sub1: null,
    sub2: null,
    sub3: null,
    sub4: null,
    sub5: null,
    event_name: null,
    is_event: false,
    status: 'approved',
    revenue: '10.00',
    payout: '7.50',
    sale_amount: '99.99',
    currency: 'USD',
    ip: '203.0.113.9',
    user_agent_hash: null,
    country_code: 'US',
    raw: { id: 'c1' },
    ...o,
  };
}

export function clickRow(o: Partial<ClickRow> = {}): ClickRow {
  return {
    click_id: 'k1',
    clicked_at: '2026-10-12T10:00:00.000Z',
    affiliate_id: 'a1',
    offer_id: 'f1',
    advertiser_id: 'v1',
    sub1: null,
    sub2: null,
    sub3: null,
    sub4: null,
    sub5: null,
    ip: '203.0.113.9',
    user_agent_hash: null,
    country_code: 'US',
    is_unique: true,
    ...o,
  };
}
