import { providerSuite } from './helpers/provider-suite.js';

providerSuite('memory stores', async () => ({ close: async () => {} }));
