/** The store conformance suite on the embedded MemoryStore (SPEC §6). */
import { MemoryStore } from '../../src/store/memory-store.js';
import { runStoreConformance } from '../conformance/store-conformance.js';

runStoreConformance('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
