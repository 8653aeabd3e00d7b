import { InProcessBroker } from "../server/broker.ts";
import { brokerConformance } from "./_broker_conformance.ts";

brokerConformance("InProcessBroker", () => {
  const broker = new InProcessBroker();
  return Promise.resolve({
    publisher: broker,
    subscriber: broker,
    close: () => broker.close(),
  });
});
