/** The namespaces of the shop, declared once and imported by each team's file. */
import { namespace } from 'policyc';

export const shop = namespace('shop');
export const data = namespace('data');
export const monitoring = namespace('monitoring');
