/**
 * The Adaptive Card a Teams Workflows webhook ("When a Teams webhook request is received") posts to
 * its channel. Workflows cannot carry submit actions back to us, so the card only links out
 * (`Action.OpenUrl`); deciding happens on the page behind the link.
 */
import type { RenderedMessage } from '../../../app/notifications/ports.js';

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

type CardElement =
  { type: 'TextBlock'; text: string; wrap: true; weight?: 'Bolder'; size?: 'Medium' } | { type: 'FactSet'; facts: { title: string; value: string }[] };

export interface AdaptiveCardMessage {
  type: 'message';
  attachments: [
    {
      contentType: typeof ADAPTIVE_CARD_CONTENT_TYPE;
      contentUrl: null;
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
        type: 'AdaptiveCard';
        version: '1.4';
        body: CardElement[];
        actions: { type: 'Action.OpenUrl'; title: string; url: string }[];
      };
    },
  ];
}

/**
 * TextBlock and FactSet render a Markdown subset (bold, italic, lists, links). Every value may hold
 * a requester's words (a reason, a ticket), so characters that would format are backslash-escaped,
 * and so are list markers at the start of a line: the text shows as typed, never as a link.
 */
export function escapeCardMarkdown(value: string): string {
  return value
    .replace(/[\\*_[\]`#]/g, '\\$&')
    .replace(/^(\s*)([-+]|\d+\.)(?=\s)/gm, (_m, indent: string, marker: string) => `${indent}${marker.replace(/[-+.]/, '\\$&')}`);
}

export function adaptiveCardMessage(message: RenderedMessage): AdaptiveCardMessage {
  const body: CardElement[] = [
    { type: 'TextBlock', text: escapeCardMarkdown(message.subject), weight: 'Bolder', size: 'Medium', wrap: true },
    { type: 'TextBlock', text: escapeCardMarkdown(message.text), wrap: true },
  ];
  if (message.facts.length > 0) {
    body.push({ type: 'FactSet', facts: message.facts.map((f) => ({ title: escapeCardMarkdown(f.label), value: escapeCardMarkdown(f.value) })) });
  }
  // Action titles are plain text (no Markdown); the URL is ours (an approver's link or the request page).
  const actions = message.link ? [{ type: 'Action.OpenUrl' as const, title: message.link.label, url: message.link.url }] : [];
  return {
    type: 'message',
    attachments: [
      {
        contentType: ADAPTIVE_CARD_CONTENT_TYPE,
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body, actions },
      },
    ],
  };
}
