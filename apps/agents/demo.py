"""Demo data: the 3A Frios assistant and its knowledge base (``manage.py seed_demo``).

Runs inside the demo tenant's schema. Idempotent: the assistant and each document are found by
name / title and created only when missing (staff edits survive a re-run); a document that is not
ready is ingested again. Ingestion runs here, synchronously, so the demo answers right away
without a worker. No model provider is configured: the demo shows retrieval-only mode."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

ASSISTANT_NAME = "Assistente 3A"

MASTER_PROMPT = """\
Você é a Assistente 3A, atendente virtual da 3A Frios, uma casa de frios, queijos e embutidos.
Atende clientes pelo WhatsApp com simpatia e objetividade, como uma boa balconista de bairro.

O que você faz:
- Tira dúvidas sobre produtos, cortes, horários, entrega, taxas e formas de pagamento.
- Ajuda o cliente a montar o pedido: produto, quantidade (em gramas ou quilos), tipo de corte
  (fatiado fino, fatiado grosso, em peça, ralado) e forma de entrega ou retirada.
- Antes de fechar, repete o pedido completo com quantidades e pergunta se está tudo certo.

Regras:
- Responda apenas com base nas informações da loja que você recebeu. Se não souber, diga que vai
  chamar alguém da equipe; nunca invente preço, estoque, prazo ou política.
- Preços por quilo podem variar; informe o valor apenas quando ele constar nas informações.
- Faça uma pergunta de cada vez e mantenha as mensagens curtas, próprias para o WhatsApp.
- Trate o cliente pelo nome quando souber. Use no máximo um emoji por mensagem.
- Reclamações, trocas e pedidos acima de 5 kg: acolha o cliente e passe a conversa para a equipe.
"""

DOCUMENTS = [
    ("Horário de funcionamento", "Loja", """\
Horário de funcionamento da 3A Frios

A loja abre de segunda a sexta-feira das 8h às 19h, sem fechar para o almoço.
Aos sábados funcionamos das 8h às 14h e aos domingos das 8h às 12h. Nos feriados a loja fica fechada.

O atendimento pelo WhatsApp acompanha o horário da loja. Mensagens enviadas fora do horário são
respondidas assim que abrirmos.

Pedidos para entrega no mesmo dia devem ser feitos até as 17h (de segunda a sexta) ou até as 12h
(no sábado). Pedidos feitos depois desse horário saem no próximo dia de funcionamento.

Endereço da loja: Rua das Palmeiras, 350, Centro. Há estacionamento gratuito para clientes por
30 minutos.
"""),
    ("Áreas e taxas de entrega", "Entrega", """\
Entrega em domicílio: áreas atendidas e taxas

Entregamos em toda a região central e nos bairros próximos, de segunda a sábado, com motoboy
próprio. Vocês podem pedir entrega para casa ou para o trabalho.

Taxas de entrega por bairro:
- Centro: taxa de entrega de R$ 5,00 (entrega grátis no Centro para pedidos acima de R$ 80,00).
- Jardins, Vila Nova Conceição e Bela Vista: taxa de entrega de R$ 8,00.
- Santa Cecília, Aclimação e Vila Mariana: taxa de entrega de R$ 12,00.
- Outros bairros: consulte a equipe; entregamos em até 10 km da loja.

Prazo de entrega: até 2 horas após a confirmação do pedido, dentro do horário de funcionamento.
Pedido mínimo para entrega: R$ 40,00. Também é possível retirar o pedido na loja sem taxa.
Os frios viajam em caixa térmica para chegar na temperatura certa.
"""),
    ("Formas de pagamento", "Pagamento", """\
Formas de pagamento aceitas

Aceitamos Pix, cartão de crédito, cartão de débito, vale-refeição e vale-alimentação (Alelo,
Sodexo, Ticket e VR) e dinheiro.

Pix: a chave Pix é o CNPJ 12.345.678/0001-90 (3A Frios Comércio de Alimentos Ltda.). Envie o
comprovante aqui pelo WhatsApp para confirmarmos o pedido.

Na entrega, o motoboy leva a maquininha de cartão. Para pagamento em dinheiro, avise se precisa de
troco e para quanto.

Pedidos acima de R$ 300,00 para empresas podem ser faturados com boleto para 14 dias, mediante
cadastro.
"""),
    ("Produtos e cortes", "Produtos", """\
Produtos e tipos de corte

Trabalhamos com frios, queijos e embutidos: presunto cozido, presunto parma, peito de peru,
mortadela (tradicional e com pistache), salame italiano, copa, lombo canadense, queijo prato,
queijo muçarela, queijo minas frescal, queijo provolone, parmesão, gorgonzola e brie.

Cortes disponíveis: fatiado fino, fatiado médio, fatiado grosso, em cubos, ralado (queijos duros)
ou a peça inteira. Vendemos a partir de 100 gramas; o preço é por quilo e o valor final depende do
peso na balança.

Montamos tábuas de frios para festas e reuniões (pequena para 4 pessoas, média para 8, grande para
15), com encomenda de 24 horas de antecedência.

Todos os produtos são fatiados na hora e embalados a vácuo sob pedido.
"""),
    ("Trocas e devoluções", "Políticas", """\
Trocas, devoluções e reclamações

Se um produto chegar estragado, fora da temperatura, com embalagem violada ou diferente do pedido,
avise em até 24 horas pelo WhatsApp. Como fazer a troca: mande uma foto do produto e o número do
pedido; fazemos a troca na próxima entrega ou devolvemos o valor, como o cliente preferir.

Por serem alimentos perecíveis, não aceitamos devolução de produtos fatiados por desistência.

Reembolsos por Pix são feitos em até 1 dia útil; no cartão, o estorno segue o prazo da operadora.
"""),
]


def seed_demo_assistant(tenant) -> None:
    """Idempotent."""
    from apps.whatsapp.models import Connection

    from .models import Assistant, Purpose, Tone

    assistant = Assistant.objects.filter(name=ASSISTANT_NAME).first()
    if assistant is None:
        assistant = Assistant.objects.create(
            name=ASSISTANT_NAME, description="Atendimento e pedidos da 3A Frios pelo WhatsApp",
            purpose=Purpose.ORDERS, tone=Tone.CASUAL, master_prompt=MASTER_PROMPT,
            is_default=not Assistant.objects.filter(is_default=True).exists(), provider=None,
            # as the knowledge base says: Mon-Fri 8-19 h, Saturday 8-14 h, Sunday 8-12 h
            business_hours={**{str(d): [["08:00", "19:00"]] for d in range(5)}, "5": [["08:00", "14:00"]],
                            "6": [["08:00", "12:00"]]})
    _seed_documents()
    # the demo number(s) answer with this assistant unless staff chose another
    Connection.objects.filter(default_assistant__isnull=True).update(default_assistant=assistant)


def _seed_documents() -> None:
    from apps.knowledge.models import Document, DocumentStatus
    from apps.knowledge.services import document_create_text, document_ingest

    for title, category, content in DOCUMENTS:
        document = Document.objects.filter(title=title).order_by("pk").first()
        if document is None:
            document = document_create_text(title=title, content=content, category=category)
        elif document.status == DocumentStatus.READY:
            continue
        try:
            document_ingest(document.pk, document.version)  # now, so the demo works without a worker
        except Exception:  # noqa: BLE001 - the knowledge sweep retries a pending document later
            log.warning("demo document %r not ingested", title, exc_info=True)
