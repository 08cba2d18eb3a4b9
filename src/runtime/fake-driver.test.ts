import { runDriverContract } from './container-driver.contract.js';
import { FakeDriver } from './fake-driver.js';

runDriverContract('fake', () => new FakeDriver(['napbox-agent:test']), { image: 'napbox-agent:test', mode: 'published' });
